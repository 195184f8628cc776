"""The API process: keep-alive answers without Nagle's delay (core.asgi_server), a clean stop on
SIGTERM, and what it refuses to start without."""

from __future__ import annotations

import http.client
import statistics
import time

from tests.support.api import ApiServer
from tests.support.cli import run_cli


def test_keep_alive_answers_are_not_held_back(api):
    """Each answer went out in two writes (head, body); without TCP_NODELAY the second waited
    for the client's delayed ACK: ~40 ms for every request after the first on a connection."""
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    took = []
    for _ in range(15):
        started = time.perf_counter()
        conn.request("GET", "/openapi.json")
        response = conn.getresponse()
        response.read()
        took.append(time.perf_counter() - started)
        assert response.status == 200
    conn.close()
    print(f"keep-alive median {statistics.median(took[1:]) * 1000:.1f} ms")
    assert statistics.median(took[1:]) < 0.030


def test_sigterm_stops_it_cleanly(api_env, tmp_path):
    server = ApiServer(api_env, str(tmp_path / "api.log")).start()
    started = time.monotonic()
    server.stop()
    assert server.proc.returncode == 0, server.log()
    assert time.monotonic() - started < 15
    assert "Traceback" not in server.log()


def test_without_the_management_role_it_does_not_start(api_env):
    env = {k: v for k, v in api_env.items() if k != "ODOO_SAAS_DB_PASSWORD"}
    proc = run_cli(env, "api", "serve", "--port", "1")
    assert proc.returncode == 2
    assert "ODOO_SAAS_DB_PASSWORD" in proc.stderr and "Traceback" not in proc.stderr
