"""Issue 26 item 1: a tenant's own SQL objects never run with power over anything else.

The attack, as the review made it: a backup defines `ir_module_module` (the table odoo-saas reads
to recognise an Odoo database) as a view over a PL/pgSQL function, and plants a trigger on
`ir_config_parameter` (which a clone, a copy-restore and neutralization write). Each time the
function runs it tries to create a login role, to shut another tenant out (connection limit 0),
to rename it, to end its sessions, to read the queries of its sessions and to change the roles
odoo-saas and Odoo log in as; it records every attempt, as whom it ran and the outcome, in a
table of its own. Before, the restored tenant was read and written as the role owning every
tenant (with CREATEROLE): the role was created and the victim's limit set to 0. Now every
reader and writer (restore, db list, backup, clone, backup verify --restore-test, pre-flight,
the exporter's scans) runs it as the tenant's own role, and every attempt is refused.
"""

from __future__ import annotations

import json
import zipfile

import psycopg2
import pytest

from odoo_saas_tools.backups.backup import create_backup
from odoo_saas_tools.backups.restore import RestoreOptions, restore_backup
from odoo_saas_tools.core import tenant_roles
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.observability.metrics.tenant_scans import scan_tenant
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.preflight import tenant_versions
from odoo_saas_tools.preflight.findings import Report
from tests.backups.restore.conftest import db_rows, unique_name
from tests.support.cli import run_cli

MARKER = "victim-secret-7f3a"

ATTEMPTS = [
    "CREATE ROLE {evil} LOGIN",
    "ALTER DATABASE {victim} CONNECTION LIMIT 0",
    "ALTER DATABASE {victim} RENAME TO {victim}_x",
    "DROP DATABASE {victim}",
    "ALTER ROLE {manager} PASSWORD 'pwned'",
    "ALTER ROLE {odoo} SET default_transaction_read_only = on",
    "ALTER ROLE {victim_role} SET default_transaction_read_only = on",
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{victim}' "
    "AND pid <> pg_backend_pid()",
    "INSERT INTO attack_seen SELECT query FROM pg_stat_activity WHERE datname = '{victim}'",
]

HOSTILE = """
CREATE TABLE attack_log (who text, what text, outcome text);
CREATE TABLE attack_seen (query text);
CREATE FUNCTION attack_note(stmt text, outcome text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO attack_log VALUES (current_user, stmt, outcome);
EXCEPTION WHEN read_only_sql_transaction THEN
  NULL;  -- a backup reads in a read-only snapshot: nothing can be written there, nor done
END
$fn$;
CREATE FUNCTION attack() RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE stmt text;
BEGIN
  FOREACH stmt IN ARRAY %(attempts)s LOOP
    BEGIN
      EXECUTE stmt;
      PERFORM attack_note(stmt, 'done');
    EXCEPTION WHEN others THEN
      PERFORM attack_note(stmt, SQLERRM);
    END;
  END LOOP;
  RETURN true;
END
$fn$;
ALTER TABLE ir_module_module RENAME TO ir_module_module_data;
CREATE VIEW ir_module_module AS SELECT * FROM ir_module_module_data WHERE attack();
CREATE FUNCTION attack_trigger() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN PERFORM attack(); RETURN NEW; END
$fn$;
CREATE TRIGGER attack BEFORE INSERT OR UPDATE ON ir_config_parameter
  FOR EACH ROW EXECUTE FUNCTION attack_trigger();
"""


def make_hostile(settings: Settings, db: str, victim: str, evil: str) -> None:
    """Turn db into the attacker's tenant, as its own SQL would (what a backup carries)."""
    attempts = [
        a.format(
            evil=evil,
            victim=victim,
            manager=settings.saas_db_user,
            odoo=settings.db_user,
            victim_role=tenant_roles.role_for(victim),
        )
        for a in ATTEMPTS
    ]
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute(HOSTILE, {"attempts": attempts})


def attack_log(settings: Settings, db: str) -> list[tuple[str, str, str]]:
    return db_rows(settings, db, "SELECT who, what, outcome FROM attack_log")


@pytest.fixture
def victim_session(settings, fake_tenant):
    """Another tenant, with a session (as Odoo holds them) whose last query holds a secret."""
    victim = fake_tenant(files=1)
    conn = psycopg2.connect(**settings.connect_kwargs(victim))
    conn.autocommit = True
    with conn.cursor() as cr:
        cr.execute(f"SELECT '{MARKER}'")
    yield victim, conn
    conn.close()


def assert_nothing_reached_beyond(settings: Settings, pg, victim: str, conn, evil: str) -> None:
    with pg.admin() as admin, admin.cursor() as cr:
        cr.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (evil,))
        assert cr.fetchone()[0] == 0, "the attacker's role exists"
        cr.execute("SELECT datconnlimit FROM pg_database WHERE datname = %s", (victim,))
        assert cr.fetchone() == (-1,), "the victim was shut out"
        cr.execute(
            "SELECT count(*) FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
            "WHERE r.rolname IN (%s, %s, %s)",
            (settings.db_user, settings.saas_db_user, tenant_roles.role_for(victim)),
        )
        assert cr.fetchone()[0] == 0, "a role's session defaults were changed"
    with conn.cursor() as cr:  # the victim's session was not ended
        cr.execute("SELECT 1")
    with connect(settings) as manager, manager.cursor() as cr:  # its password still works
        cr.execute("SELECT current_user")
        assert cr.fetchone() == (settings.saas_db_user,)


def assert_ran_powerless(rows: list[tuple[str, str, str]], role: str) -> None:
    """The function ran (the attack was really tried), as the tenant's own role (named after
    the tenant, or after the scratch database the restore loaded it into, whose role became
    the tenant's), never as a role of the server, and every attempt was refused."""
    assert rows, "the planted function never ran: the attack was not exercised"
    runners = {who for who, _, _ in rows}
    assert role in runners, rows
    assert all(tenant_roles.is_tenant_role(who) for who in runners), rows
    done = [what for _, what, outcome in rows if outcome == "done"]
    # pg_terminate_backend of another role's session is refused with an error in 15+; the
    # query text of another role's session reads as "<insufficient privilege>"
    assert all(what.startswith("INSERT INTO attack_seen") for what in done), done


def test_a_restored_tenants_sql_runs_only_as_its_own_role(
    settings, saas_env, pg, fake_tenant, victim_session, tmp_path
):
    victim, victim_conn = victim_session
    evil = f"evil_{unique_name()}"
    src = fake_tenant(files=1)
    make_hostile(settings, src, victim, evil)
    backup = create_backup(settings, src).path  # reads the view in a read-only snapshot

    target = unique_name()
    # reads the view, writes the config
    restore_backup(settings, target, backup, RestoreOptions(copy=True))
    proc = run_cli(saas_env, "db", "list", "--json", "--fresh")
    assert proc.returncode == 0, proc.stderr
    clone = unique_name()
    proc = run_cli(saas_env, "db", "clone", target, clone, "--no-neutralize")  # identity writes
    assert proc.returncode == 0, proc.stderr
    second = create_backup(settings, target).path
    proc = run_cli(saas_env, "backup", "verify", str(second), "--restore-test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tenant_versions.scan(settings, Report(), with_state=True)
    scan_tenant(settings, target)

    rows = attack_log(settings, target)
    assert_ran_powerless(rows, tenant_roles.role_for(target))
    assert_ran_powerless(attack_log(settings, clone), tenant_roles.role_for(clone))
    seen = db_rows(settings, target, "SELECT query FROM attack_seen")
    assert seen and all(MARKER not in (q or "") for (q,) in seen), seen
    assert_nothing_reached_beyond(settings, pg, victim, victim_conn, evil)
    for name in (target, clone):
        databases.drop(settings, name)


@pytest.mark.parametrize("statement", ATTEMPTS[:7])
def test_the_role_odoo_serves_a_tenant_with_cannot_reach_another(
    settings, pg, fake_tenant, victim_session, statement
):
    """What a trigger planted in a tenant may do while Odoo serves it: exactly what its role
    may, logged in as Odoo logs in (the derived password, over TCP)."""
    victim, victim_conn = victim_session
    tenant = fake_tenant(files=0)
    evil = f"evil_{unique_name()}"
    sql = statement.format(
        evil=evil,
        victim=victim,
        manager=settings.saas_db_user,
        odoo=settings.db_user,
        victim_role=tenant_roles.role_for(victim),
    )
    with connect(settings, tenant) as conn, conn.cursor() as cr:
        cr.execute("SELECT current_user")
        assert cr.fetchone() == (tenant_roles.role_for(tenant),)
        with pytest.raises(
            psycopg2.Error, match=r"permission denied|must be |must have |cannot be executed"
        ):
            cr.execute(sql)
    assert_nothing_reached_beyond(settings, pg, victim, victim_conn, evil)


def test_a_tenants_role_can_neither_signal_nor_read_another_tenants_sessions(
    settings, fake_tenant, victim_session
):
    victim, victim_conn = victim_session
    tenant = fake_tenant(files=0)
    with connect(settings, tenant) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT pid, query FROM pg_stat_activity WHERE datname = %s AND pid <> "
            "pg_backend_pid()",
            (victim,),
        )
        rows = cr.fetchall()
        assert rows and all(MARKER not in (q or "") for _, q in rows), rows
        with pytest.raises(psycopg2.Error, match=r"permission denied|must be a member"):
            cr.execute("SELECT pg_terminate_backend(%s)", (victim_conn.get_backend_pid(),))
    with victim_conn.cursor() as cr:
        cr.execute("SELECT 1")


def test_a_tenants_role_cannot_log_in_to_another_tenant(settings, fake_tenant):
    one, other = fake_tenant(files=0), fake_tenant(files=0)
    kwargs = {**settings.connect_kwargs(one), "dbname": other}
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        psycopg2.connect(**kwargs).close()
    # Odoo's own role may connect (the exporter measures sizes as it) and read nothing
    kwargs = {**settings.connect_kwargs("postgres"), "user": settings.db_user,
              "password": settings.db_password, "dbname": one}  # fmt: skip
    conn = psycopg2.connect(**kwargs)
    try:
        with conn.cursor() as cr, pytest.raises(psycopg2.Error, match="permission denied"):
            cr.execute("SELECT * FROM ir_module_module")
    finally:
        conn.close()


def test_a_tenants_search_path_never_steers_what_odoo_saas_reads(settings, fake_tenant):
    """A tenant's SQL may set its database's and role's search_path to a schema of its own,
    shadowing the tables odoo-saas reads; our sessions pin it in the start-up packet."""
    db = fake_tenant(files=0)
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute("CREATE SCHEMA shadow")
        cr.execute("CREATE TABLE shadow.ir_config_parameter (key text, value text)")
        cr.execute(f'ALTER ROLE CURRENT_USER IN DATABASE "{db}" SET search_path = shadow, public')
    with connect(settings, "postgres", management=True) as conn, conn.cursor() as cr:
        cr.execute(f'ALTER DATABASE "{db}" SET search_path = shadow, public')
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute("SHOW search_path")
        assert cr.fetchone() == ("public",)
        cr.execute("SELECT count(*) FROM ir_config_parameter WHERE key = 'database.uuid'")
        assert cr.fetchone() == (1,)  # public's table, not the shadow's (empty)


def test_what_a_restored_backup_did_to_its_role_is_undone_on_the_swap(settings, fake_tenant):
    """Its role's session defaults and password are the backup's to change while it loads;
    they are reset when the database is renamed into place."""
    src = fake_tenant(files=0)
    with zipfile.ZipFile(create_backup(settings, src).path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        dump = zf.read("dump.sql")
    evil = (
        b"\nALTER ROLE CURRENT_USER SET default_transaction_read_only = on;\n"
        b"ALTER ROLE CURRENT_USER PASSWORD 'chosen-by-the-backup';\n"
    )
    path = settings.backup_dir / "evil.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        zf.writestr("dump.sql", dump + evil)
    target = unique_name()
    restore_backup(settings, target, path, RestoreOptions(from_other_tenant=True))
    with connect(settings, target) as conn, conn.cursor() as cr:  # the derived password works
        cr.execute("SHOW default_transaction_read_only")
        assert cr.fetchone() == ("off",)
        cr.execute("CREATE TABLE written (id int)")
    databases.drop(settings, target)
