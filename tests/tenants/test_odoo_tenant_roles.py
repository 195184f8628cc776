"""With real Odoo: each tenant is served as its own role (issue 26 item 1).

A trigger planted in tenant A (on res_users_log, which every login writes) tries, when Odoo runs
it during a login, to create a role, to shut tenant B out, to rename it and to end its sessions.
Before, Odoo served every tenant as the role that owned them all, with CREATEROLE: all of it went
through. Now the trigger runs as A's own role, and every attempt is refused; Odoo still finds
its tenants (the odoo_saas_tenancy addon lists the management role's databases) and logs in to
each as that tenant's role.
"""

from __future__ import annotations

import http.cookiejar
import json
import subprocess
import urllib.request
from collections.abc import Callable

import pytest

from odoo_saas_tools.core import tenant_roles
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo import runner as odoo_runner
from odoo_saas_tools.odoo.environment import odoo_environment
from odoo_saas_tools.postgres.connection import connect
from tests.support.cli import run_cli
from tests.support.jsonrpc import jsonrpc
from tests.support.net import free_port, wait_port

pytestmark = pytest.mark.usefixtures("odoo_template")

TRIGGER = """
CREATE TABLE attack_log (who text, what text, outcome text);
CREATE FUNCTION attack() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE stmt text;
BEGIN
  FOREACH stmt IN ARRAY %(attempts)s LOOP
    BEGIN
      EXECUTE stmt;
      INSERT INTO attack_log VALUES (current_user, stmt, 'done');
    EXCEPTION WHEN others THEN
      INSERT INTO attack_log VALUES (current_user, stmt, SQLERRM);
    END;
  END LOOP;
  RETURN NEW;
END
$fn$;
CREATE TRIGGER attack AFTER INSERT ON res_users_log FOR EACH ROW EXECUTE FUNCTION attack();
"""


def test_odoo_serves_each_tenant_as_its_own_role(
    odoo_env: dict[str, str], dbname: Callable[[str], str], pg, tmp_path
) -> None:
    settings = Settings.from_env(odoo_env)
    attacker, victim = dbname("attacker"), dbname("victim")
    created = run_cli(odoo_env, "db", "create", attacker, "--json")
    assert created.returncode == 0, created.stderr
    password = json.loads(created.stdout)["admin_password"]
    assert run_cli(odoo_env, "db", "create", victim).returncode == 0
    evil = f"evil_{attacker}"
    attempts = [
        f"CREATE ROLE {evil} LOGIN",
        f"ALTER DATABASE {victim} CONNECTION LIMIT 0",
        f"ALTER DATABASE {victim} RENAME TO {victim}_x",
        f"ALTER ROLE {settings.db_user} PASSWORD 'pwned'",
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{victim}'",
    ]
    with connect(settings, attacker) as conn, conn.cursor() as cr:
        cr.execute(TRIGGER, {"attempts": attempts})

    listed = odoo_runner.shell(
        settings,
        attacker,
        "import json, odoo\nprint('LIST=' + json.dumps(odoo.service.db.list_dbs(True)))\n",
    )
    (line,) = [x for x in listed.splitlines() if x.startswith("LIST=")]
    assert {attacker, victim} <= set(json.loads(line[5:]))
    assert not [n for n in json.loads(line[5:]) if n.startswith("odoo_saas_")]

    port = free_port()
    argv = [settings.odoo_bin, "server", "-c", str(odoo_runner.config_path(settings))]
    argv += ["--db-filter", f"^({attacker}|{victim})$", "--workers", "0"]
    argv += ["--max-cron-threads", "0", "--http-interface", "127.0.0.1"]
    argv += ["--http-port", str(port), "--gevent-port", str(free_port())]
    with open(tmp_path / "odoo.log", "wb") as log:
        server = subprocess.Popen(
            argv, env=odoo_environment(settings), stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_port(port, 120)
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        login = {"db": attacker, "login": "admin", "password": password}
        assert jsonrpc(opener, f"http://127.0.0.1:{port}/web/session/authenticate", login)["uid"]
        with pg.admin() as conn, conn.cursor() as cr:
            cr.execute(
                "SELECT DISTINCT datname, usename FROM pg_stat_activity "
                "WHERE application_name ~ '^odoo-[0-9]+$'"
            )
            sessions = set(cr.fetchall())
    finally:
        server.terminate()
        server.wait(60)
    assert (attacker, tenant_roles.role_for(attacker)) in sessions, sessions
    assert all(user != settings.saas_db_user for _, user in sessions), sessions

    with connect(settings, attacker) as conn, conn.cursor() as cr:
        cr.execute("SELECT who, what, outcome FROM attack_log")
        rows = cr.fetchall()
    assert rows, "the planted trigger never ran"
    assert {who for who, _, _ in rows} == {tenant_roles.role_for(attacker)}
    # only the signal "went through": no session of the victim was there to refuse it for
    assert all(what == attempts[-1] for _, what, outcome in rows if outcome == "done"), rows
    with pg.admin() as conn, conn.cursor() as cr:
        cr.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (evil,))
        assert cr.fetchone() == (0,)
        cr.execute("SELECT datconnlimit FROM pg_database WHERE datname = %s", (victim,))
        assert cr.fetchone() == (-1,)
