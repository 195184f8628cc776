"""The certificate side without Odoo: the ask endpoint (served alone, as the API mounts it) and
real Caddy running the shipped Caddyfile in front of recording backends. Real Odoo behind real
Caddy: tests/tenants/test_odoo_custom_domains.py."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator

import pytest

from odoo_saas_tools.domains import manage
from tests.domains.conftest import POOL
from tests.runtime.test_proxy import Recorder
from tests.support.caddy import CADDYFILE, Caddy, caddy_binary, caddy_env
from tests.support.net import free_port
from tests.support.tls_ask import AskServer

pytestmark = pytest.mark.skipif(not caddy_binary(), reason="caddy not installed (.ci/run)")


def challenge(name: str) -> str:
    return f"_odoo-saas-challenge.{name}"


@pytest.fixture(scope="module")
def ask(denv) -> Iterator[AskServer]:
    server = AskServer(denv)
    yield server
    server.stop()


def verified(dsettings, dnsd, tenant_name: str, name: str) -> None:
    dnsd.set(txt={challenge(name): manage.add(dsettings, tenant_name, name).row.token})
    manage.verify(dsettings, tenant_name, name)


def until(check, timeout: float = 5.0, step: float = 0.05) -> float:
    """Seconds until check() held (AssertionError after timeout)."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(step)
    return time.monotonic() - start


def test_ask_says_yes_only_for_verified_domains_and_follows_changes(
    ask, dsettings, dnsd, tenant, domain
):
    acme, name, pending = tenant(), domain(), domain("pending")
    manage.add(dsettings, acme, pending)
    assert ask.ask(pending) == 404  # claimed, not proven
    assert ask.ask("random.example.org") == 404
    assert ask.ask(f"{acme}.{POOL}") == 404  # the wildcard covers those: no certificate each
    assert ask.ask(None) == 404 and ask.ask("") == 404
    verified(dsettings, dnsd, acme, name)
    took = until(lambda: ask.ask(name) == 200)
    assert took < 2.0
    # what Caddy might send for the same name
    assert ask.ask(name.upper()) == 200 and ask.ask(name + ".") == 200
    assert ask.ask(name, method="HEAD") == 200
    assert ask.ask(name, method="POST") == 405
    assert ask.ask(name, path="/v1/tls/allowed/x") == 404
    manage.remove(dsettings, acme, name)
    assert until(lambda: ask.ask(name) == 404) < 2.0


def test_ask_is_cheap(ask, dsettings, dnsd, tenant, domain):
    """Caddy asks at every new name a client offers: one small answer, no query each time."""
    acme, name = tenant(), domain()
    verified(dsettings, dnsd, acme, name)
    until(lambda: ask.ask(name) == 200)
    start = time.perf_counter()
    for i in range(200):
        ask.ask(name if i % 2 else f"x{i}.example.org")
    per_call = (time.perf_counter() - start) / 200
    assert per_call < 0.02, per_call  # urllib's own cost included (about 1 ms here)


@pytest.fixture(scope="module")
def front(ask, tmp_path_factory) -> Iterator[tuple[Caddy, Recorder, Recorder]]:
    http, ws = Recorder("http"), Recorder("websocket")
    caddy = Caddy(
        tmp_path_factory.mktemp("caddy"),
        pool_domain=POOL,
        web="127.0.0.1",
        http_port=http.port,
        gevent_port=ws.port,
        ask_url=ask.url,
    )
    yield caddy, http, ws
    caddy.stop()
    for backend in (http, ws):
        backend.shutdown()
        backend.server_close()


def test_caddy_certifies_a_custom_domain_only_once_verified(front, dsettings, dnsd, tenant, domain):
    caddy, _, _ = front
    acme, name = tenant(), domain()
    manage.add(dsettings, acme, name)
    refused = caddy.curl(name, "/web/login")
    assert refused.exit_code != 0 and refused.status == 0, refused  # no certificate, no request
    verified(dsettings, dnsd, acme, name)
    took = until(lambda: caddy.curl(name, "/web/login").status == 200, timeout=10)
    assert took < 2.0 + 1.0  # the ask sees it within 2 s; issuing from the local CA is quick
    answer = caddy.curl(name, "/web/login", "-H", f"X-Forwarded-Host: {acme}.{POOL}")
    seen = {k.lower(): v for k, v in json.loads(answer.body)["headers"].items()}
    # a client's X-Forwarded-Host never reaches Odoo: Caddy says which host was asked for
    port = f":{caddy.https_port}"  # not 443 here: the Host header carries it
    assert seen["x-forwarded-host"] == name + port and seen["x-forwarded-proto"] == "https"
    assert seen["host"] == name + port


def test_a_name_nobody_verified_gets_no_certificate(front):
    caddy, _, _ = front
    for name in ("random.example.org", f"evil.{POOL}.example.org", "localhost"):
        answer = caddy.curl(name)
        assert answer.status == 0 and answer.exit_code != 0, (name, answer)


def test_pool_subdomains_use_the_wildcard_websockets_and_the_manager_is_closed(front):
    caddy, _, _ = front
    answer = caddy.curl(f"acme.{POOL}", "/web/login")
    assert answer.status == 200 and json.loads(answer.body)["backend"] == "http"
    upgraded = caddy.curl(
        f"acme.{POOL}", "/websocket?version=1", "-H", "Upgrade: websocket", "-H",
        "Connection: Upgrade",
    )  # fmt: skip
    assert json.loads(upgraded.body)["backend"] == "websocket", upgraded
    assert caddy.curl(f"acme.{POOL}", "/web/database/manager").status == 403
    context = ssl.create_default_context(cafile=str(caddy.ca))
    with (
        socket.create_connection(("127.0.0.1", caddy.https_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=f"globex.{POOL}") as tls,
    ):
        names = [v for k, v in tls.getpeercert()["subjectAltName"] if k == "DNS"]
    assert names == [f"*.{POOL}"]  # one wildcard certificate, not one per tenant


@pytest.mark.parametrize(
    "env",
    [
        {"CADDY_TLS": "internal", "CADDY_WILDCARD_TLS": "internal"},
        {"CADDY_TLS": "", "CADDY_WILDCARD_TLS": "{certs}/wildcard.crt {certs}/wildcard.key"},
        {"CADDY_TLS": "hostmaster@example.com", "CADDY_WILDCARD_TLS": "internal"},
    ],
    ids=["local", "acme-and-wildcard-files", "acme-account-email"],
)
def test_the_shipped_caddyfile_validates(tmp_path, env):
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN=*.{POOL}", "-keyout", str(certs / "wildcard.key"),
         "-out", str(certs / "wildcard.crt")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    values = {k: v.replace("{certs}", str(certs)) for k, v in env.items()}
    proc = subprocess.run(
        [caddy_binary(), "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=caddy_env(tmp_path, ODOO_DOMAIN=POOL, CADDY_HTTPS_PORT=str(free_port()), **values),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Valid configuration" in proc.stdout + proc.stderr
