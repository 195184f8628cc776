"""With a real Odoo 19 (skipped without one): scheduled backup of a real tenant, off-site,
then `backup verify --restore-test` proves it restores as an Odoo 19 database."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import run_cli

pytestmark = pytest.mark.odoo


def test_real_tenant_backed_up_off_site_and_restore_tested(tenant_env, odoo_bin, pg, seaweed):
    env = {**tenant_env, "ODOO_BIN": odoo_bin}
    db = f"{env['BK_TAG']}_real"
    proc = run_cli(env, "db", "create", db, timeout=600)
    assert proc.returncode == 0, proc.stderr

    proc = run_cli(env, "backup", "run", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tenant,) = json.loads(proc.stdout)["tenants"]
    assert tenant["database"] == db and tenant["offsite"] == "verified"
    print(f"real tenant zip backup + verified upload: {tenant['duration_seconds']:.2f} s")

    before = pg.databases()
    proc = run_cli(env, "backup", "verify", "--restore-test", "--json", tenant["file"])
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["odoo_version"].startswith("19.0.") and result["installed_modules"] >= 14
    assert pg.databases() == before
    print(f"verify --restore-test: {result['duration_seconds']:.2f} s")

    url = f"s3://{env['AWS_S3_BUCKET']}/odoo-backups/{db}/{tenant['file'].rsplit('/', 1)[1]}"
    proc = run_cli(env, "backup", "verify", url)
    assert proc.returncode == 0, proc.stderr
