"""Issue 26 item 1: a pool made before tenant roles is migrated by pre-flight, which says what
it changed; until then the stack does not start on it.

Before, Odoo's role (ODOO_DB_USER) owned every tenant and had CREATEDB and CREATEROLE: a trigger
planted in one tenant ran with power over all of them. The migration hands the databases to
the management role, what Odoo's role made inside each to that database's own role, and takes
CREATEDB/CREATEROLE away from Odoo's role.
"""

from __future__ import annotations

import psycopg2
import pytest

from odoo_saas_tools.core import tenant_roles
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.preflight import db_roles
from odoo_saas_tools.preflight.findings import ERROR, OK, Report
from tests.conftest import stack_environment
from tests.support.cli import run_cli
from tests.support.pg import ROLE, ROLE_PASSWORD


def legacy_pool(cluster, names: list[str]) -> None:
    """What earlier versions made: Odoo's role owns the tenants and everything in them."""
    with cluster.admin() as conn, conn.cursor() as cr:
        cr.execute(f"ALTER ROLE {ROLE} CREATEDB CREATEROLE")
    for name in names:
        kwargs = dict(host="127.0.0.1", port=cluster.port, user=ROLE, password=ROLE_PASSWORD)
        conn = psycopg2.connect(dbname="postgres", **kwargs)
        conn.autocommit = True
        with conn.cursor() as cr:
            cr.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        with psycopg2.connect(dbname=name, **kwargs) as conn, conn.cursor() as cr:
            cr.execute(
                "CREATE TABLE ir_module_module (id serial PRIMARY KEY, name varchar, "
                "latest_version varchar, state varchar);"
                "INSERT INTO ir_module_module (name, latest_version, state) "
                "VALUES ('base', '19.0.1.3', 'installed');"
                "CREATE TABLE ir_config_parameter (id serial PRIMARY KEY, key varchar UNIQUE, "
                "value text);"
            )
        conn.close()


def statuses(report: Report) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in report.findings:
        if f.check == db_roles.CHECK:
            out.setdefault(f.status, []).append(f"{f.item}: {f.message}")
    return out


@pytest.fixture
def legacy(make_pg, tmp_path):
    cluster = make_pg()
    names = ["acme", "globex"]
    legacy_pool(cluster, names)
    env = stack_environment(cluster, tmp_path, ODOO_DB_FILTER="^%d$")
    return cluster, names, env


def test_a_legacy_pool_is_refused_until_migrated(legacy):
    cluster, _, env = legacy
    observer = Settings.from_env({**env, "ODOO_SAAS_DB_PASSWORD": ""})
    report = Report()
    db_roles.check_roles(observer, report, fix=True)  # without the management role: no change
    errors = statuses(report)[ERROR]
    assert any("CREATEDB CREATEROLE" in e for e in errors), errors
    assert any("owns 2 database(s) (acme, globex)" in e for e in errors), errors
    with cluster.admin() as conn, conn.cursor() as cr:
        cr.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'acme'")
        assert cr.fetchone() == (ROLE,)


def test_migration_moves_everything_and_says_what_it_changed(legacy):
    cluster, names, env = legacy
    settings = Settings.from_env(env)
    report = Report()
    db_roles.check_roles(settings, report, fix=True)
    found = statuses(report)
    assert ERROR not in found, found[ERROR]
    changes = "\n".join(found[OK])
    for name in names:
        assert f"{name}: now owned by {settings.saas_db_user}" in changes
    assert f"Odoo's role {ROLE} may no longer create databases or roles" in changes
    with cluster.admin() as conn, conn.cursor() as cr:
        cr.execute("SELECT rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = %s", (ROLE,))
        assert cr.fetchone() == (False, False)
        for name in names:
            cr.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (name,)
            )
            assert cr.fetchone() == (settings.saas_db_user,)
    for name in names:
        with connect(settings, name) as conn, conn.cursor() as cr:  # as its own role
            cr.execute(
                "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
                "WHERE relnamespace = 'public'::regnamespace"
            )
            assert cr.fetchall() == [(tenant_roles.role_for(name),)]
            cr.execute("INSERT INTO ir_config_parameter (key, value) VALUES ('k', 'v')")
    with (
        connect(settings, "acme") as conn,
        conn.cursor() as cr,
        pytest.raises(psycopg2.Error, match="must be owner"),
    ):
        cr.execute('ALTER DATABASE "globex" RENAME TO "hijacked"')
    again = Report()
    db_roles.check_roles(settings, again, fix=True)  # nothing left to do
    assert [m for m in statuses(again)[OK]] == [
        f"pool: {settings.saas_db_user} owns the tenants, each served as its own role; "
        f"{ROLE} owns nothing"
    ]
    proc = run_cli(env, "db", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    assert '"state": "ready"' in proc.stdout.replace('"state":"ready"', '"state": "ready"')


def test_a_superuser_odoo_role_is_an_error_naming_the_statement(make_pg, tmp_path):
    cluster = make_pg()
    with cluster.admin() as conn, conn.cursor() as cr:
        cr.execute(f"ALTER ROLE {ROLE} SUPERUSER")
    settings = Settings.from_env(stack_environment(cluster, tmp_path))
    report = Report()
    db_roles.check_roles(settings, report, fix=True)
    errors = statuses(report)[ERROR]
    assert any(f"ALTER ROLE {ROLE} NOSUPERUSER NOCREATEDB NOCREATEROLE" in e for e in errors)


def test_a_changed_odoo_password_renews_every_tenant_role(make_pg, tmp_path):
    cluster = make_pg()
    env = stack_environment(cluster, tmp_path)
    settings = Settings.from_env(env)
    from tests.support.tenants import new_database

    new_database(settings, "acme")
    with cluster.admin() as conn, conn.cursor() as cr:
        cr.execute(f"ALTER ROLE {ROLE} PASSWORD 'rotated-secret-1234'")
    rotated = Settings.from_env({**env, "ODOO_DB_PASSWORD": "rotated-secret-1234"})
    with pytest.raises(Exception, match="password authentication failed"), connect(rotated, "acme"):
        pass
    report = Report()
    db_roles.check_roles(rotated, report, fix=False)
    assert any("another ODOO_DB_PASSWORD" in e for e in statuses(report)[ERROR])
    db_roles.check_roles(rotated, Report(), fix=True)
    with connect(rotated, "acme") as conn, conn.cursor() as cr:
        cr.execute("SELECT current_user")
        assert cr.fetchone() == (tenant_roles.role_for("acme"),)
