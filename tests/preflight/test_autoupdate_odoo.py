"""ODOO_AUTO_UPDATE with real Odoo 19: changed modules upgraded at start, unchanged ones not,
a failing upgrade rolled back to the snapshot. One Odoo database per session, copied per test."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import time
from pathlib import Path

import pytest

from odoo_saas_tools.core.reserved import RESERVED_PREFIX
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo import runner as odoo_runner
from odoo_saas_tools.preflight import before_start, run_checks
from odoo_saas_tools.preflight.autoupdate import snapshot_name
from odoo_saas_tools.preflight.checksums import PARAM_CHECKSUMS
from tests.conftest import stack_environment
from tests.preflight.conftest import unique, write_addon
from tests.support.tenants import new_database

pytestmark = pytest.mark.odoo

MODULE = "pf_auto_mod"
PARAMS = """<?xml version="1.0" encoding="utf-8"?>
<odoo>
    <record id="pf_param" model="ir.config_parameter">
        <field name="key">pf.auto.value</field>
        <field name="value">{value}</field>
    </record>
{extra}</odoo>
"""
BROKEN = '    <record id="pf_broken" model="pf.no.such.model"><field name="x">1</field></record>\n'


def write_module(root: Path, value: str = "v1", extra: str = "") -> Path:
    return write_addon(
        root,
        MODULE,
        "{'name': 'Preflight test', 'version': '19.0.1.0.0', 'depends': ['base'], "
        "'data': ['data/params.xml'], 'license': 'LGPL-3'}",
        files={"data/params.xml": PARAMS.format(value=value, extra=extra)},
    )


def make_env(pg, root: Path, addons: Path, odoo_bin: str, **extra: str) -> dict[str, str]:
    return stack_environment(
        pg,
        root,
        ODOO_EXTRA_ADDONS=str(addons),
        ODOO_BIN=odoo_bin,
        ODOO_WORKERS="0",
        # the directories are ours: checked for us, whether or not this machine has an `odoo`
        # user (the default) that could not write them
        ODOO_SAAS_USER=pwd.getpwuid(os.getuid()).pw_name,
        **extra,
    )


@pytest.fixture(scope="session")
def odoo_base_db(pg, odoo_bin, tmp_path_factory):
    """A database with base and the test module installed (once: ~20 s)."""
    root = tmp_path_factory.mktemp("pf-odoo")
    write_module(root / "addons")
    name = unique("pf_base")
    s = Settings.from_env(make_env(pg, root, root / "addons", odoo_bin))
    odoo_runner.server_job(s, name, ["-i", MODULE], timeout=600)
    yield name, root
    with pg.admin() as conn, conn.cursor() as cr:
        cr.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def tenant(pg, odoo_base_db, odoo_bin, tmp_path):
    """A copy of the session database and a private copy of the module's source."""
    base, base_root = odoo_base_db
    name = unique("pf_tenant")
    addons = tmp_path / "addons"
    shutil.copytree(base_root / "addons", addons)
    env = make_env(
        pg, tmp_path, addons, odoo_bin, ODOO_AUTO_UPDATE="true", ODOO_DB_FILTER=f"^{name}$"
    )
    new_database(Settings.from_env(env), name, template=base)
    yield name, Settings.from_env(env), addons
    with pg.admin() as conn, conn.cursor() as cr:
        for db in (name, snapshot_name(name)):
            cr.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def query(pg, db: str, sql: str, args: tuple = ()):
    with pg.admin(db) as conn, conn.cursor() as cr:
        cr.execute(sql, args)
        return cr.fetchone()


def param(pg, db: str, key: str) -> str | None:
    row = query(pg, db, "SELECT value FROM ir_config_parameter WHERE key = %s", (key,))
    return row[0] if row else None


def db_oid(pg, db: str) -> int:
    return query(pg, "postgres", "SELECT oid FROM pg_database WHERE datname = %s", (db,))[0]


def reserved_left(pg) -> set[str]:
    return {d for d in pg.databases() if d.startswith(RESERVED_PREFIX + "upd_")} | {
        d for d in pg.databases() if d.startswith(RESERVED_PREFIX + "failed_")
    }


def update_findings(report) -> list:
    return [f for f in report.findings if f.check == "update"]


def test_unchanged_tenant_is_not_upgraded_changed_one_is(pg, tenant):
    name, s, addons = tenant
    # first start: nothing stored yet -> the current checksums become the baseline
    report = run_checks(s, fix=True)
    (baseline,) = update_findings(report)
    assert baseline.status == "warning" and "recorded" in baseline.message
    stored = json.loads(param(pg, name, PARAM_CHECKSUMS))
    assert {"base", "web", MODULE} <= set(stored) and all(stored.values())

    # unchanged: no Odoo run, no snapshot
    started = time.monotonic()
    report = run_checks(s, fix=True)
    elapsed = time.monotonic() - started
    (unchanged,) = update_findings(report)
    assert unchanged.status == "ok" and "unchanged" in unchanged.message, report.findings
    assert json.loads(param(pg, name, PARAM_CHECKSUMS)) == stored
    assert elapsed < 10, elapsed  # the probe (~1.5 s) and checksums, not an Odoo upgrade

    # the module's source changes: upgraded on start, before Odoo serves
    write_module(addons, value="v2")
    oid = db_oid(pg, name)
    serving = before_start(s)
    assert serving.db_filter == s.db_filter  # still served
    assert param(pg, name, "pf.auto.value") == "v2"
    after = json.loads(param(pg, name, PARAM_CHECKSUMS))
    assert after[MODULE] != stored[MODULE]
    assert {k: v for k, v in after.items() if k != MODULE} == {
        k: v for k, v in stored.items() if k != MODULE
    }
    assert db_oid(pg, name) == oid  # upgraded in place; the snapshot was dropped
    assert not s.filestore(snapshot_name(name)).exists()
    assert not reserved_left(pg) & {snapshot_name(name)}


def test_failing_upgrade_rolls_the_tenant_back(pg, tenant):
    name, s, addons = tenant
    run_checks(s, fix=True)  # baseline
    stored = param(pg, name, PARAM_CHECKSUMS)
    oid = db_oid(pg, name)
    attachment = s.filestore(name) / "ab" / ("ab" + "0" * 38)
    attachment.parent.mkdir(parents=True)
    attachment.write_bytes(b"attachment bytes")
    write_module(addons, value="v-broken", extra=BROKEN)
    report = run_checks(s, fix=True)
    (failed,) = update_findings(report)
    assert failed.status == "warning"
    assert "failed and was rolled back" in failed.message and MODULE in failed.message
    assert report.excluded_tenants == {name: "failed update"}
    # the tenant is the snapshot now: another database, old data, old checksums
    assert db_oid(pg, name) != oid
    assert param(pg, name, "pf.auto.value") == "v1"
    assert param(pg, name, PARAM_CHECKSUMS) == stored
    assert query(pg, name, "SELECT state FROM ir_module_module WHERE name = %s", (MODULE,)) == (
        "installed",
    )
    assert attachment.read_bytes() == b"attachment bytes"  # the filestore came back too
    assert not s.filestore(snapshot_name(name)).exists()
    assert "params.xml" in failed.message  # Odoo's own error, not its last INFO line
    assert snapshot_name(name) not in pg.databases()
    assert not any(d.endswith(snapshot_name(name)[-16:]) for d in reserved_left(pg))
