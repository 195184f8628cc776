"""With real Odoo (issue 28): suspension, resume and a plan's user limit, served by Odoo itself.

One Odoo (2 HTTP workers, 1 cron worker) serves three tenants made from the session's base
template: A is suspended and resumed, B stays active beside it, C is provisioned on a plan
with max_users 2. Odoo reads the catalog as its own role; every change goes through the CLI.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import subprocess
import time
import urllib.error
import urllib.request
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path

import pytest

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo import runner as odoo_runner
from odoo_saas_tools.odoo.environment import odoo_environment
from odoo_saas_tools.postgres.connection import connect
from tests.support.cli import run_cli
from tests.support.net import free_port, wait_port

pytestmark = pytest.mark.usefixtures("odoo_template")

PLANS = """
plans:
  small:
    country: BE
    max_users: 2
"""
MESSAGE = "Unpaid <b>invoice</b> for {database}: {reason}"
REASON = "invoice 42 <script>alert(1)</script>"
REACH_SECONDS = 2.0


@pytest.fixture
def env(odoo_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The area's environment with a plans file, the hoster's text, no prefix and a runtime
    directory of the test's own (its odoo.conf carries the text)."""
    plans = tmp_path / "plans.yml"
    plans.write_text(PLANS)
    (tmp_path / "run").mkdir()
    return {
        **odoo_env,
        "TENANT_DB_PREFIX": "",
        "ODOO_SAAS_PLANS_FILE": str(plans),
        "ODOO_SAAS_SUSPENDED_MESSAGE": MESSAGE,
        "ODOO_SAAS_RUNTIME_DIR": str(tmp_path / "run"),
    }


@contextlib.contextmanager
def odoo_server(settings: Settings, dbs: list[str], log: Path) -> Iterator[int]:
    port = free_port()
    argv = [settings.odoo_bin, "server", "-c", str(odoo_runner.config_path(settings))]
    argv += ["--db-filter", f"^({'|'.join(dbs)})$", "--workers", "2", "--max-cron-threads", "1"]
    argv += ["--http-interface", "127.0.0.1", "--http-port", str(port)]
    argv += ["--gevent-port", str(free_port())]
    with open(log, "wb") as out:
        server = subprocess.Popen(
            argv, env=odoo_environment(settings), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_port(port, 120)
        yield port
    finally:
        server.terminate()
        server.wait(60)


class Client:
    """A browser of one tenant: its own cookie jar."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, headers=headers or {})  # noqa: S310
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def rpc(self, path: str, params: dict) -> dict:
        """The JSON-RPC answer: {"result": ...} or {"error": ...}."""
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params}).encode()
        request = urllib.request.Request(  # noqa: S310
            self.base + path, body, {"Content-Type": "application/json"}
        )
        with self.opener.open(request, timeout=30) as response:
            return json.loads(response.read())

    def login(self, db: str, password: str) -> int:
        answer = self.rpc(
            "/web/session/authenticate", {"db": db, "login": "admin", "password": password}
        )
        return answer["result"]["uid"]

    def call(self, model: str, method: str, *args: object, **kwargs: object) -> dict:
        params = {"model": model, "method": method, "args": list(args), "kwargs": kwargs}
        return self.rpc(f"/web/dataset/call_kw/{model}/{method}", params)


def make_tenant(env: dict[str, str], name: str, *extra: str) -> str:
    created = run_cli(env, "tenant", "provision", name, "--json", *extra)
    assert created.returncode == 0, created.stderr
    return json.loads(created.stdout)["admin_password"]


def lastcall(settings: Settings, db: str) -> object:
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT c.lastcall FROM ir_cron c JOIN ir_model_data d ON d.res_id = c.id "
            "AND d.model = 'ir.cron' AND d.module = 'base' AND d.name = 'autovacuum_job'"
        )
        return cr.fetchone()[0]


def make_due(settings: Settings, db: str) -> None:
    """base's autovacuum is due now, and the cron workers are told (as Odoo's _trigger)."""
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute(
            "UPDATE ir_cron SET active = true, nextcall = now() AT TIME ZONE 'UTC' - "
            "interval '1 hour' WHERE id = (SELECT res_id FROM ir_model_data WHERE "
            "model = 'ir.cron' AND module = 'base' AND name = 'autovacuum_job')"
        )
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute("SELECT pg_notify('cron_trigger', %s)", (db,))


def wait_for(condition, timeout: float) -> float:
    """Seconds until condition() held; fails after timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def served_everywhere(client: Client, status: int, since: float) -> None:
    """REACH_SECONDS after the change, every worker answers status (20 requests: both)."""
    time.sleep(max(0.0, since + REACH_SECONDS - time.monotonic()))
    statuses = {client.get("/odoo")[0] for _ in range(20)}
    assert statuses == {status}, statuses


def test_suspend_serves_503_stops_crons_and_resume_brings_sessions_back(
    env, dbname, tmp_path
) -> None:
    settings = Settings.from_env(env)
    a, b = dbname("susp_a"), dbname("susp_b")
    password_a, password_b = make_tenant(env, a), make_tenant(env, b)
    with odoo_server(settings, [a, b], tmp_path / "odoo.log") as port:
        alice, bob = Client(port), Client(port)
        assert alice.login(a, password_a) and bob.login(b, password_b)
        assert alice.get("/odoo")[0] == 200
        before = lastcall(settings, a)

        suspended = run_cli(env, "tenant", "suspend", a, "--reason", REASON, "--json")
        assert suspended.returncode == 0, suspended.stderr
        changed = time.monotonic()
        reach = wait_for(lambda: alice.get("/odoo")[0] == 503, REACH_SECONDS)
        served_everywhere(alice, 503, changed)
        status, body = alice.get("/odoo")
        assert status == 503
        assert f"Unpaid &lt;b&gt;invoice&lt;/b&gt; for {a}: invoice 42 &lt;script&gt;" in body
        assert "<script>" not in body and "<b>" not in body
        # anonymous visitors of A (as a host-based filter routes them), RPC naming A
        assert Client(port).get("/web/login", {"X-Odoo-Database": a})[0] == 503
        common = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/xmlrpc/2/common")
        with pytest.raises(xmlrpc.client.Fault, match="Unpaid <b>invoice</b>"):
            common.authenticate(a, "admin", password_a, {})
        # Odoo's health probe is the server's, not A's (a single-tenant HEALTHCHECK)
        status, body = alice.get("/web/health")
        assert status == 200 and json.loads(body)["status"] == "pass", (status, body[:300])
        # B goes on, logged in and anonymous
        assert bob.get("/odoo")[0] == 200
        assert Client(port).get("/web/login", {"X-Odoo-Database": b})[0] == 200

        # crons: both due and notified, A first; B's runs, A's does not
        make_due(settings, a)
        make_due(settings, b)
        wait_for(lambda: lastcall(settings, b) is not None, 60)
        assert lastcall(settings, a) == before
        listed = run_cli(env, "db", "list", "--json")
        states = {row["name"]: row["state"] for row in json.loads(listed.stdout)}
        assert states[a] == "suspended" and states[b] == "ready"

        resumed = run_cli(env, "tenant", "resume", a)
        assert resumed.returncode == 0, resumed.stderr
        changed = time.monotonic()
        reach_back = wait_for(lambda: alice.get("/odoo")[0] == 200, REACH_SECONDS)
        served_everywhere(alice, 200, changed)
        # the session from before the suspension still works
        info = alice.rpc("/web/session/get_session_info", {})
        assert info["result"]["uid"] and info["result"]["db"] == a
        make_due(settings, a)
        wait_for(lambda: lastcall(settings, a) != before, 60)
    print(f"\nsuspension reached Odoo in {reach:.2f} s, the resume in {reach_back:.2f} s")


def test_a_plans_user_limit_is_enforced_by_odoo(env, dbname, tmp_path) -> None:
    settings = Settings.from_env(env)
    c = dbname("plan_c")
    password = make_tenant(env, c, "--plan", "small")
    with connect(settings, c) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT c.code FROM res_company co JOIN res_partner p ON p.id = co.partner_id "
            "JOIN res_country c ON c.id = p.country_id"
        )
        assert cr.fetchone() == ("BE",)  # the plan's country
    with odoo_server(settings, [c], tmp_path / "odoo.log") as port:
        admin = Client(port)
        assert admin.login(c, password)

        def create(login: str, groups: list[int] | None = None) -> dict:
            values: dict = {"name": login, "login": login}
            if groups is not None:
                values["group_ids"] = [[6, 0, groups]]
            return admin.call("res.users", "create", [values])

        assert "result" in create("second")  # admin + 1 = 2, the limit
        refused = create("third")
        assert refused["error"]["data"]["name"] == "odoo.exceptions.UserError"
        assert "Your plan allows 2 active internal users" in refused["error"]["data"]["message"]

        def group(name: str) -> int:
            domain = [("module", "=", "base"), ("name", "=", name)]
            found = admin.call("ir.model.data", "search_read", domain, ["res_id"])
            return found["result"][0]["res_id"]

        portal, internal = group("group_portal"), group("group_user")
        assert "result" in create("customer", [portal])  # portal users do not count
        (second,) = admin.call("res.users", "search", [("login", "=", "second")])["result"]
        assert "error" not in admin.call("res.users", "action_archive", [second])
        assert "result" in create("third")  # a place was freed
        unarchive = admin.call("res.users", "action_unarchive", [second])
        assert "Your plan allows 2" in unarchive["error"]["data"]["message"]

        # the same seat taken from the groups' side, never through res.users' create or write:
        # the customer loses its portal type first (allowed: it is nobody's seat), then becomes
        # internal through the group, through a new group implying it, through its own groups
        (customer,) = admin.call("res.users", "search", [("login", "=", "customer")])["result"]
        untyped = admin.call("res.groups", "write", [portal], {"user_ids": [[3, customer]]})
        assert "error" not in untyped, untyped
        attempts = {
            "group's users": ("res.groups", "write", [internal], {"user_ids": [[4, customer]]}),
            "new implying group": (
                "res.groups",
                "create",
                [{"name": "Sneaky", "implied_ids": [[4, internal]], "user_ids": [[4, customer]]}],
            ),
            "user's groups": ("res.users", "write", [customer], {"group_ids": [[4, internal]]}),
        }
        for label, (model, method, *args) in attempts.items():
            answer = admin.call(model, method, *args)
            assert "error" in answer, f"{label}: a third internal user was let in"
            assert "Your plan allows 2" in answer["error"]["data"]["message"], (label, answer)
        with connect(settings, c) as conn, conn.cursor() as cr:
            cr.execute("SELECT count(*) FROM res_users WHERE active AND NOT share")
            assert cr.fetchone() == (2,)

        # a bigger plan: its module installed beside the running server, its limit reaches
        # Odoo within 2 s (the plans file is the hoster's)
        bigger = "  bigger:\n    max_users: 3\n    modules: [base_sparse_field]\n"
        Path(env["ODOO_SAAS_PLANS_FILE"]).write_text(PLANS + bigger)
        changed = run_cli(env, "tenant", "plan", c, "bigger", "--json")
        assert changed.returncode == 0, changed.stderr
        assert json.loads(changed.stdout)["modules_installed"] == ["base_sparse_field"]
        wait_for(
            lambda: "error" not in admin.call("res.users", "action_unarchive", [second]),
            REACH_SECONDS,
        )
