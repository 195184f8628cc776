"""Compatibility with real Odoo 19 (skipped without it): Odoo restores our zip, we restore
Odoo's, every filestore file identical; the restored database works in Odoo; --copy and
--neutralize change what Odoo's own copy/neutralize change.

One Odoo database (`-i base`) is made per session; each test copies it with CREATE DATABASE
... TEMPLATE and adds random attachments.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from odoo_saas_tools.backups.backup import create_backup
from odoo_saas_tools.backups.restore import RestoreOptions, restore_backup
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo import runner as odoo_runner
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect
from tests.backups.restore.conftest import add_attachment, db_rows, tenant_files
from tests.conftest import stack_environment
from tests.support.pg import PgCluster
from tests.support.tenants import new_database

PARAM = "SELECT value FROM ir_config_parameter WHERE key = %s"


@pytest.fixture(scope="session")
def odoo_settings(
    pg: PgCluster, odoo_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    root = tmp_path_factory.mktemp("tb_odoo")
    env = stack_environment(pg, root, ODOO_BIN=odoo_bin, ODOO_LOG_LEVEL="warn", ODOO_WORKERS="0")
    return Settings.from_env(env)


@pytest.fixture(scope="session")
def odoo_template(odoo_settings: Settings) -> Iterator[str]:
    """A real Odoo 19 database with base installed, used only as a template."""
    name = f"tb_odoo_tpl_{uuid.uuid4().hex[:6]}"
    odoo_runner.server_job(odoo_settings, name, ["-i", "base"], timeout=600)
    yield name
    databases.drop(odoo_settings, name)


@pytest.fixture
def odoo_tenant(odoo_settings: Settings, odoo_template: str) -> Iterator[Callable[[], str]]:
    made: list[str] = []

    def make() -> str:
        name = f"tb_odoo_{uuid.uuid4().hex[:8]}"
        new_database(odoo_settings, name, template=odoo_template)
        made.append(name)
        src = odoo_settings.filestore(odoo_template)
        if src.exists():
            shutil.copytree(src, odoo_settings.filestore(name))
        for i in range(8):
            add_attachment(odoo_settings, name, os.urandom(5000 + 997 * i), f"photo{i}.jpg")
        return name

    yield make
    for name in made:
        databases.drop(odoo_settings, name)
        shutil.rmtree(odoo_settings.filestore(name), ignore_errors=True)


def _odoo_db(settings: Settings, *args: str, db: str | None = None) -> None:
    """Odoo's own `odoo db ...`: as db's role, or (making a database) the management role."""
    conf = str(odoo_runner.config_path(settings))
    login = settings.login_for(db)
    odoo_runner.run(settings, ["db", "-c", conf, *args], timeout=300, login=login)


def _param(settings: Settings, db: str, key: str) -> str | None:
    rows = db_rows_param(settings, db, key)
    return rows[0][0] if rows else None


def db_rows_param(settings: Settings, db: str, key: str) -> list[tuple]:
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute(PARAM, (key,))
        return cr.fetchall()


def test_odoo_db_load_restores_our_zip(odoo_settings, odoo_tenant, tmp_path, pg):
    db = odoo_tenant()
    ours = create_backup(odoo_settings, db).path
    target = f"tb_odoo_{uuid.uuid4().hex[:8]}"
    try:
        _odoo_db(odoo_settings, "load", target, str(ours))  # Odoo makes it: no role of its own
        assert tenant_files(odoo_settings, target) == tenant_files(odoo_settings, db)
        assert len(tenant_files(odoo_settings, target)) >= 8
        query = "SELECT login FROM res_users ORDER BY id"
        with pg.admin(target) as conn, conn.cursor() as cr:
            cr.execute(query)
            assert cr.fetchall() == db_rows(odoo_settings, db, query)
    finally:
        databases.drop(odoo_settings, target)
        shutil.rmtree(odoo_settings.filestore(target), ignore_errors=True)


def test_we_restore_odoos_zip_and_odoo_runs_it(odoo_settings, odoo_tenant, tmp_path):
    db = odoo_tenant()
    theirs = tmp_path / "odoo_own.zip"
    _odoo_db(odoo_settings, "dump", db, str(theirs), db=db)
    target = f"tb_odoo_{uuid.uuid4().hex[:8]}"
    try:
        result = restore_backup(odoo_settings, target, theirs)
        assert result.kind == "zip" and result.missing_attachments == 0
        files = tenant_files(odoo_settings, target)
        assert files == tenant_files(odoo_settings, db) and len(files) >= 8
        for rel, sha in files.items():  # content-addressed: the name is the content's sha1
            assert Path(rel).name == sha
        # disaster recovery keeps the identity
        for key in ("database.uuid", "database.secret"):
            assert _param(odoo_settings, target, key) == _param(odoo_settings, db, key)
        # Odoo itself opens the restored database and reads an attachment from the filestore
        out = odoo_runner.shell(
            odoo_settings,
            target,
            "att = env['ir.attachment'].search([('name', '=', 'photo3.jpg')])\n"
            "print('SIZE', len(att.raw), att.checksum)\n",
            timeout=300,
        )
        size_line = next(line for line in out.splitlines() if line.startswith("SIZE"))
        assert size_line.split()[1] == str(5000 + 997 * 3)
    finally:
        databases.drop(odoo_settings, target)
        shutil.rmtree(odoo_settings.filestore(target), ignore_errors=True)


def test_restore_as_neutralized_copy(odoo_settings, odoo_tenant):
    db = odoo_tenant()
    for fmt in ("dump", "sql.gz"):
        path = create_backup(odoo_settings, db, fmt=fmt).path
        target = f"tb_odoo_{uuid.uuid4().hex[:8]}"
        try:
            restore_backup(
                odoo_settings, target, path, RestoreOptions(copy=True, neutralize=True, jobs=2)
            )
            assert _param(odoo_settings, target, "database.uuid") != _param(
                odoo_settings, db, "database.uuid"
            )
            assert _param(odoo_settings, target, "database.secret") != _param(
                odoo_settings, db, "database.secret"
            )
            assert _param(odoo_settings, target, "database.is_neutralized") == "true"
            servers = "SELECT smtp_host FROM ir_mail_server WHERE active"
            assert db_rows(odoo_settings, target, servers) == [("invalid",)]
            assert _param(odoo_settings, db, "database.is_neutralized") is None
            active_crons = db_rows(
                odoo_settings,
                target,
                "SELECT count(*) FROM ir_cron c JOIN ir_model_data d ON d.res_id = c.id "
                "AND d.model = 'ir.cron' WHERE c.active AND d.name <> 'autovacuum_job'",
            )
            assert active_crons == [(0,)]
            if fmt == "dump":
                assert tenant_files(odoo_settings, target) == tenant_files(odoo_settings, db)
        finally:
            databases.drop(odoo_settings, target)
            shutil.rmtree(odoo_settings.filestore(target), ignore_errors=True)
