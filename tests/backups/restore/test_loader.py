"""Issue 11 item 6: a backup's SQL touches nothing but the database it is restored into.

On main a `.sql.gz` ending in `ALTER DATABASE victim RENAME TO victim_hijacked;` restored into a
new tenant renamed another tenant (exit 0): backups were loaded as the role owning every tenant.
Now they load as the scratch database's own role (issue 26: every database has one), which owns
nothing else and can create neither databases nor roles.
"""

from __future__ import annotations

import gzip
import zipfile

import pytest

from odoo_saas_tools.backups.backup import create_backup
from odoo_saas_tools.backups.restore import restore_backup
from odoo_saas_tools.core import tenant_roles
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.postgres import databases, loader
from tests.backups.restore.conftest import db_rows, unique_name
from tests.support.cli import run_cli

ATTACKS = {
    "rename-other-tenant": "ALTER DATABASE {victim} RENAME TO {victim}_hijacked;",
    "drop-other-tenant": "DROP DATABASE {victim};",
    "change-odoos-role": "ALTER ROLE {role} SET search_path = 'evil';",
    "change-the-managers-role": "ALTER ROLE {manager} SET search_path = 'evil';",
    "own-the-victim": "ALTER DATABASE {victim} OWNER TO CURRENT_USER;",
    "make-a-role": "CREATE ROLE evil_admin LOGIN SUPERUSER;",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_backup_sql_cannot_reach_another_tenant_or_role(
    settings, saas_env, fake_tenant, tmp_path, attack
):
    victim = fake_tenant(files=1)
    src = fake_tenant(files=0)
    with zipfile.ZipFile(create_backup(settings, src).path) as zf:
        dump = zf.read("dump.sql")
    evil = ATTACKS[attack].format(
        victim=victim, role=settings.db_user, manager=settings.saas_db_user
    )
    path = tmp_path / "evil.sql.gz"
    path.write_bytes(gzip.compress(dump + b"\n" + evil.encode() + b"\n"))
    target = unique_name()
    proc = run_cli(saas_env, "db", "restore", target, str(path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    refused = ("permission denied", "must be ", "cannot run inside a transaction block")
    assert any(why in proc.stderr for why in refused), proc.stderr
    assert databases.exists(settings, victim)
    assert not databases.exists(settings, f"{victim}_hijacked")
    assert not databases.exists(settings, target)
    owner = db_rows(
        settings,
        "postgres",
        f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{victim}'",
    )
    assert owner == [(settings.saas_db_user,)]
    role_settings = db_rows(
        settings,
        "postgres",
        "SELECT count(*) FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
        f"WHERE r.rolname IN ('{settings.db_user}', '{settings.saas_db_user}')",
    )
    assert role_settings == [(0,)]
    assert db_rows(settings, "postgres", "SELECT count(*) FROM pg_roles WHERE "
                   "rolname = 'evil_admin'") == [(0,)]  # fmt: skip
    assert loader.leftover_roles(settings) == []


@pytest.mark.parametrize(
    "statement",
    ["DROP DATABASE {victim}", "ALTER ROLE {role} SUPERUSER", "ALTER ROLE {manager} PASSWORD 'x'"],
)
def test_outside_a_transaction_the_loading_role_still_cannot(settings, fake_tenant, statement):
    """pg_restore -j runs outside one transaction: what the role itself may do is what counts."""
    import psycopg2

    from odoo_saas_tools.postgres.connection import connect

    victim = fake_tenant(files=0)
    scratch = unique_name()
    with (
        loader.scratch_database(settings, scratch) as as_loader,
        connect(as_loader, scratch) as conn,
        conn.cursor() as cr,
        pytest.raises(psycopg2.Error, match=r"permission denied|must be |must have "),
    ):
        cr.execute(
            statement.format(victim=victim, role=settings.db_user, manager=settings.saas_db_user)
        )
    assert databases.exists(settings, victim)
    databases.drop(settings, scratch)
    assert loader.leftover_roles(settings) == []


def test_restored_tenant_belongs_to_its_own_role(settings, fake_tenant):
    src = fake_tenant(files=1)
    target = unique_name()
    restore_backup(settings, target, create_backup(settings, src).path)
    own = tenant_roles.role_for(target)
    owners = db_rows(
        settings,
        target,
        "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
        "WHERE relnamespace = 'public'::regnamespace",
    )
    assert owners == [(own,)]
    ext = db_rows(settings, target, "SELECT DISTINCT pg_get_userbyid(extowner) FROM pg_extension "
                  "WHERE extname <> 'plpgsql'")  # fmt: skip
    assert ext == [(own,)]
    owner = db_rows(
        settings,
        "postgres",
        f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{target}'",
    )
    assert owner == [(settings.saas_db_user,)]
    assert loader.leftover_roles(settings) == []
    databases.drop(settings, target)
    assert db_rows(
        settings, "postgres", f"SELECT count(*) FROM pg_roles WHERE rolname = '{own}'"
    ) == [(0,)]


def test_a_manager_without_createrole_gets_one_clear_line(settings, pg, fake_tenant):
    src = fake_tenant(files=0)
    path = create_backup(settings, src).path
    with pg.admin() as conn, conn.cursor() as cr:
        cr.execute(f'ALTER ROLE "{settings.saas_db_user}" NOCREATEROLE')
    try:
        with pytest.raises(ConfigError, match="CREATEROLE"):
            restore_backup(settings, unique_name(), path)
    finally:
        with pg.admin() as conn, conn.cursor() as cr:
            cr.execute(f'ALTER ROLE "{settings.saas_db_user}" CREATEROLE')
