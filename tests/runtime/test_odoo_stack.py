"""The whole stack with real Odoo 19 (skipped when ODOO_BIN finds none)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import ADMIN_PASSWD
from tests.runtime.stack import Stack
from tests.support.net import free_port

pytestmark = [
    pytest.mark.odoo,
    pytest.mark.skipif(os.geteuid() != 0, reason="unshare --pid needs root"),
]


def get(url: str, timeout: float = 5) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def jsonrpc(port: int, service: str, method: str, *args: object) -> dict:
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"service": service, "method": method, "args": list(args)},
        }
    )
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/jsonrpc",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())


def wait_health(port: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, body = get(f"http://127.0.0.1:{port}/web/health")
            if status == 200:
                return body
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"/web/health did not answer on {port} within {timeout} s")


def test_real_odoo_stack(odoo_bin, saas_env):
    http_port = free_port()
    env = {
        **saas_env,
        "ODOO_BIN": odoo_bin,
        "ODOO_HTTP_PORT": str(http_port),
        "ODOO_GEVENT_PORT": str(free_port()),
        "ODOO_WORKERS": "2",
        "ODOO_MAX_CRON_THREADS": "1",
        "ODOO_METRICS_ENABLED": "false",
        "ODOO_AUTO_BACKUP": "false",
        "ODOO_STOP_TIMEOUT": "15",
    }
    stack = Stack(env)
    try:
        stack.wait_running("odoo", timeout=120)
        assert wait_health(http_port) == {"status": "pass"}
        status, body = get(f"http://127.0.0.1:{http_port}/web/health?db_server_status=1")
        assert status == 200 and body["db_server_status"] is True
        # Odoo verifies the hashed master password we wrote: list_countries is the one
        # master-password call that is not blocked by list_db=False.
        ok = jsonrpc(http_port, "db", "list_countries", ADMIN_PASSWD)
        assert any(code == "be" for code, _name in ok.get("result", [])), ok
        denied = jsonrpc(http_port, "db", "list_countries", "not-the-password")
        assert "Access Denied" in json.dumps(denied.get("error", {})), denied
        # and with list_db=False the database manager's functions are refused outright
        drop = jsonrpc(http_port, "db", "drop", ADMIN_PASSWD, "no_such_tenant_db")
        assert "AccessDenied" in json.dumps(drop.get("error", {})), drop
        assert "[odoo]" in stack.output and "HTTP service (werkzeug) running" in stack.output
        assert stack.status()["odoo"][0] == "RUNNING"
        assert stack.terminate(timeout=60) == 0, stack.output
    finally:
        stack.kill()
