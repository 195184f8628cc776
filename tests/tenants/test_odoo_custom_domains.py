"""Custom domains with real Odoo 19 behind real Caddy (issue 29).

Two tenants made from this area's Odoo template, Odoo in workers mode (HTTP workers and the
gevent websocket server) with the odoo.conf odoo-saas renders, the ask endpoint served alone,
dnsmasq for the DNS proofs, Caddy running the shipped Caddyfile with its local CA. Odoo 19's
login page names its database only when asked with ?db= (and then echoes whatever was asked),
so which tenant a host reaches is told by a login: Odoo's /web/session/authenticate refuses a
database the host may not use ("Database not found"), and accepts the host's tenant's admin. In
this area for its Odoo template (one per session); the tests without Odoo are in tests/domains.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.domains import manage
from odoo_saas_tools.odoo.environment import odoo_environment
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.runtime import render
from tests.support.caddy import Caddy, caddy_binary
from tests.support.cli import run_cli
from tests.support.dns import Dnsmasq
from tests.support.net import free_port, wait_port
from tests.support.tls_ask import AskServer

pytestmark = [
    pytest.mark.usefixtures("odoo_template"),
    pytest.mark.skipif(not caddy_binary(), reason="caddy not installed (.ci/run)"),
]

POOL = "pool.test"


@dataclass
class Pool:
    settings: Settings
    env: dict[str, str]
    acme: str
    globex: str
    passwords: dict[str, str]
    odoo_port: int
    gevent_port: int
    caddy: Caddy
    dnsd: Dnsmasq
    log: Path

    def verify(self, tenant: str, name: str) -> None:
        token = manage.add(self.settings, tenant, name).row.token
        self.dnsd.set(txt={f"_odoo-saas-challenge.{name}": token})
        manage.verify(self.settings, tenant, name)

    def direct(
        self, host: str, path: str = "/web/login", headers: dict | None = None, body: str = ""
    ) -> tuple[int, str, str]:
        """Odoo's own port, with any Host header (what a client that bypasses the proxy or a
        proxy passing headers through could send)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.odoo_port, timeout=30)
        extra = {"Content-Type": "application/json"} if body else {}
        conn.request(
            "POST" if body else "GET", path, body or None,
            headers={"Host": host, **extra, **(headers or {})},
        )  # fmt: skip
        resp = conn.getresponse()
        text = resp.read().decode(errors="replace")
        conn.close()
        return resp.status, text, resp.getheader("Location") or ""

    def credentials(self, tenant: str) -> dict:
        return {"db": tenant, "login": "admin", "password": self.passwords[tenant]}

    def tenant_at(self, host: str, headers: dict | None = None) -> str | None:
        """The tenant whose admin can log in at host (directly at Odoo), if any."""
        for tenant in (self.acme, self.globex):
            status, text, _ = self.direct(
                host, "/web/session/authenticate", headers, rpc(self.credentials(tenant))
            )
            if status == 200 and (json.loads(text).get("result") or {}).get("uid"):
                return tenant
        return None

    def tenant_through_caddy(self, host: str, *curl_args: str) -> str | None:
        for tenant in (self.acme, self.globex):
            answer = self.caddy.curl(
                host, "/web/session/authenticate", "-H", "Content-Type: application/json",
                "--data", rpc(self.credentials(tenant)), *curl_args,
            )  # fmt: skip
            if answer.status == 200 and (json.loads(answer.body).get("result") or {}).get("uid"):
                return tenant
        return None


def rpc(params: dict) -> str:
    return json.dumps({"jsonrpc": "2.0", "method": "call", "params": params})


@pytest.fixture(scope="module")
def pool(odoo_env, tmp_path_factory) -> Iterator[Pool]:
    tmp = tmp_path_factory.mktemp("custom-domains")
    (tmp / "run").mkdir()
    dnsd = Dnsmasq()
    suffix = uuid.uuid4().hex[:6]
    acme, globex = f"dacme{suffix}", f"dglobex{suffix}"
    odoo_port, gevent_port = free_port(), free_port()
    env = {
        **odoo_env,
        "ODOO_SAAS_RUNTIME_DIR": str(tmp / "run"),
        "ODOO_DOMAIN": POOL,
        "TENANT_URL_TEMPLATE": "https://{tenant}." + POOL,
        "ODOO_DB_FILTER": "^%d$",
        "ODOO_PROXY_MODE": "true",
        "ODOO_WORKERS": "2",
        "ODOO_MAX_CRON_THREADS": "0",
        "ODOO_SAAS_DNS_SERVERS": dnsd.server,
    }
    settings = Settings.from_env(env)
    passwords = {}
    for name in (acme, globex):
        made = run_cli(env, "db", "create", name, "--json", check=True)
        passwords[name] = json.loads(made.stdout)["admin_password"]
    render.render_all(settings)
    log = tmp / "odoo.log"
    argv = [settings.odoo_bin, "server", "-c", str(settings.odoo_conf), "--pidfile="]
    argv += ["--http-interface", "127.0.0.1", "--http-port", str(odoo_port)]
    argv += ["--gevent-port", str(gevent_port), "--logfile", str(log)]
    odoo = subprocess.Popen(argv, env=odoo_environment(settings), stdout=subprocess.DEVNULL)
    ask = AskServer(env)
    caddy = None
    try:
        wait_port(odoo_port, 120)
        wait_port(gevent_port, 120)
        caddy = Caddy(
            tmp / "caddy",
            pool_domain=POOL,
            web="127.0.0.1",
            http_port=odoo_port,
            gevent_port=gevent_port,
            ask_url=ask.url,
        )
        yield Pool(settings, env, acme, globex, passwords, odoo_port, gevent_port, caddy, dnsd, log)
    finally:
        if caddy:
            caddy.stop()
        ask.stop()
        odoo.terminate()
        odoo.wait(60)
        dnsd.stop()
        for name in (acme, globex):
            run_cli(env, "db", "drop", name, "--no-backup")
        assert not databases.exists(settings, acme)


def within(seconds: float, check) -> bool:
    """check() holds within seconds of now (a change must reach every worker in 2 s)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def login(pool: Pool, host: str, tenant: str, jar: Path) -> dict:
    answer = pool.caddy.curl(
        host, "/web/session/authenticate", "-c", str(jar), "-b", str(jar),
        "-H", "Content-Type: application/json",
        "--data", rpc(pool.credentials(tenant)),
    )  # fmt: skip
    assert answer.status == 200, answer
    return json.loads(answer.body)


def test_a_custom_domain_reaches_its_tenant_login_works_websockets_too(pool, tmp_path):
    name = f"erp.{pool.acme}.test"
    pool.verify(pool.acme, name)
    assert within(2.0, lambda: pool.caddy.curl(name, "/web/login").status == 200)
    page = pool.caddy.curl(name, "/web/login")
    assert page.status == 200 and "oe_login_form" in page.body, (page, pool.log.read_text())
    assert "/web/binary/company_logo" in page.body
    jar_named = str(tmp_path / "named")
    named = pool.caddy.curl(
        name, f"/web/login?db={pool.acme}", "-L", "-c", jar_named, "-b", jar_named
    )
    assert f"company_logo?dbname={pool.acme}" in named.body

    jar = tmp_path / "cookies"
    result = login(pool, name, pool.acme, jar)["result"]
    assert result["uid"] == 2 and result["db"] == pool.acme
    info = pool.caddy.curl(
        name, "/web/session/get_session_info", "-b", str(jar),
        "-H", "Content-Type: application/json", "--data", '{"jsonrpc":"2.0","params":{}}',
    )  # fmt: skip
    assert json.loads(info.body)["result"]["uid"] == 2
    home = pool.caddy.curl(name, "/odoo", "-b", str(jar))
    assert home.status == 200 and "odoo.__session_info__" in home.body

    assert websocket_pong(pool, name, jar)


def session_id(jar: Path) -> str:
    return next(
        line.split("\t")[-1] for line in jar.read_text().splitlines() if "\tsession_id\t" in line
    )


def websocket_pong(pool: Pool, host: str, jar: Path) -> bool:
    """A websocket opened through Caddy to Odoo's gevent server answers a ping."""
    session = session_id(jar)
    context = ssl.create_default_context(cafile=str(pool.caddy.ca))
    key = base64.b64encode(os.urandom(16)).decode()
    with (
        socket.create_connection(("127.0.0.1", pool.caddy.https_port), timeout=20) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(
            (
                f"GET /websocket?version=19.0-2 HTTP/1.1\r\nHost: {host}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Key: {key}\r\nOrigin: https://{host}\r\n"
                f"Cookie: session_id={session}\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += tls.recv(4096)
        status, _, rest = head.partition(b"\r\n")
        assert b" 101 " in status, head
        accept = base64.b64encode(
            hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()  # noqa: S324 - RFC 6455
        )
        assert accept in rest
        mask = os.urandom(4)
        payload = b"hi"
        tls.sendall(bytes([0x89, 0x80 | len(payload)]) + mask + bytes(
            b ^ mask[i % 4] for i, b in enumerate(payload)
        ))  # fmt: skip
        frame = head.partition(b"\r\n\r\n")[2]
        while len(frame) < 2:
            frame += tls.recv(4096)
        return frame[0] == 0x8A  # FIN + pong


def test_a_second_tenants_domain_reaches_the_second_tenant(pool):
    name = f"shop.{pool.globex}.test"
    pool.verify(pool.globex, name)
    assert within(2.0, lambda: pool.caddy.curl(name, "/web/login").status == 200)
    assert pool.caddy.curl(name, "/web/login").status == 200
    assert pool.tenant_through_caddy(name) == pool.globex
    # and the pool's subdomains still work, through the wildcard certificate
    assert pool.tenant_through_caddy(f"{pool.acme}.{POOL}") == pool.acme
    assert pool.tenant_through_caddy(f"erp.{pool.acme}.test") == pool.acme


def test_unverified_and_removed_domains_get_no_certificate_and_no_tenant(pool):
    pending, gone = f"pending.{pool.acme}.test", f"old.{pool.acme}.test"
    manage.add(pool.settings, pool.acme, pending)
    refused = pool.caddy.curl(pending, "/web/login")
    assert refused.status == 0 and refused.exit_code != 0, refused  # handshake refused
    pool.verify(pool.acme, gone)
    assert within(2.0, lambda: pool.tenant_through_caddy(gone) == pool.acme)
    manage.remove(pool.settings, pool.acme, gone)
    start = time.monotonic()
    while True:
        answer = pool.caddy.curl(gone, "/web/login")
        if answer.status == 404 or answer.status == 0:
            break
        assert time.monotonic() - start < 5, answer
    took = time.monotonic() - start
    assert took < 2.0, took
    # every worker, 2 s after the change (each re-reads the map at most once a second, so the
    # first 404 may come from one worker while another still has its last second's map): none
    # serves it any more
    time.sleep(max(0.0, start + 2.0 - time.monotonic()))
    for _ in range(12):
        answer = pool.caddy.curl(gone, "/web/login")
        assert answer.status in (0, 404) and "oe_login_form" not in answer.body
        assert "database/selector" not in answer.body
    assert pool.tenant_through_caddy(gone) is None


@pytest.fixture(scope="module")
def hostile(pool: Pool) -> Pool:
    """acme's domains erp.<acme>.test and <globex>.<acme>.test verified, seen by every worker."""
    for name in (f"erp.{pool.acme}.test", f"{pool.globex}.{pool.acme}.test"):
        if name not in verified(pool):
            pool.verify(pool.acme, name)
    time.sleep(1.1)  # one poll interval
    return pool


@pytest.mark.parametrize(
    ("host", "headers", "expect"),
    [
        ("ERP.{acme}.TEST", {}, "acme"),  # mixed case
        ("erp.{acme}.test.", {}, "acme"),  # trailing dot
        ("erp.{acme}.test:443", {}, "acme"),  # a port
        ("www.{acme}." + POOL, {}, "acme"),
        ("{acme}." + POOL + ".", {}, "acme"),
        # a domain of acme whose first label is globex's name: acme, never globex
        ("{globex}.{acme}.test", {}, "acme"),
        # another tenant's name under a foreign domain: nobody
        ("{globex}.evil.test", {}, None),
        ("{globex}." + POOL + ".evil.test", {}, None),
        ("127.0.0.1", {}, None),
        (POOL, {}, None),
        # another tenant's database asked for by header or parameter on acme's domain
        ("erp.{acme}.test", {"X-Odoo-Database": "{globex}"}, "not-globex"),
        # behind a proxy, the forwarded host decides (the proxy sets it: see the Caddy tests)
        ("erp.{acme}.test", {"X-Forwarded-Host": "{globex}.evil.test"}, None),
    ],
)
def test_a_hostile_host_never_crosses_tenants(hostile, host, headers, expect):
    pool = hostile
    fill = {"acme": pool.acme, "globex": pool.globex}
    host = host.format(**fill)
    headers = {k: v.format(**fill) for k, v in headers.items()}
    got = pool.tenant_at(host, headers)
    if expect == "not-globex":
        assert got != pool.globex
        return
    assert got == (fill[expect] if expect else None), got
    status, body, location = pool.direct(host, "/web/login", headers)
    if expect is None:  # a plain 404: no tenant, no database selector
        assert status == 404 and "oe_login_form" not in body, (status, location, body[:300])
        assert "selector" not in location and "database/selector" not in body
    else:
        assert status == 200 and "oe_login_form" in body, (status, location, body[:300])


def verified(pool: Pool) -> set[str]:
    return {c.row.domain for c in manage.listing(pool.settings, pool.acme) if c.row.verified}


def test_through_caddy_a_forwarded_host_from_the_client_is_ignored(pool):
    name = f"erp.{pool.acme}.test"
    if name not in verified(pool):
        pool.verify(pool.acme, name)
    forged = ("-H", f"X-Forwarded-Host: {pool.globex}.{POOL}")
    assert pool.tenant_through_caddy(name, *forged) == pool.acme


def test_a_session_of_one_tenant_is_worth_nothing_on_another(pool, tmp_path):
    name = f"erp.{pool.acme}.test"
    if name not in verified(pool):
        pool.verify(pool.acme, name)
    jar = tmp_path / "cookies"
    assert login(pool, name, pool.acme, jar)["result"]["uid"] == 2
    session = session_id(jar)
    info = pool.caddy.curl(
        f"{pool.globex}.{POOL}", "/web/session/get_session_info",
        "-H", f"Cookie: session_id={session}",
        "-H", "Content-Type: application/json", "--data", '{"jsonrpc":"2.0","params":{}}',
    )  # fmt: skip
    assert "error" in json.loads(info.body) or not json.loads(info.body)["result"].get("uid")


def test_health_answers_on_any_host(pool):
    status, body, _ = pool.direct("10.1.2.3:8069", "/web/health")
    assert status == 200 and json.loads(body)["status"] == "pass"
