"""`backup prune` and `backup verify` through the CLI, on real files, real S3, real PostgreSQL."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone

from odoo_saas_tools.backups.names import (
    checksum_path,
    mark_offsite,
    sha256_file,
    write_checksum,
)
from odoo_saas_tools.backups.offsite import s3_bucket as s3
from odoo_saas_tools.core.settings import Settings
from tests.backups.conftest import make_tenant
from tests.backups.helpers import make_backup
from tests.support.cli import run_cli

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def test_prune_gfs_locally_and_in_s3_with_dry_run_first(s3_env, seaweed):
    env = {**s3_env, "BACKUP_KEEP_DAILY": "3", "BACKUP_KEEP_WEEKLY": "2"}
    settings = Settings.from_env(env)
    directory = settings.backup_dir / "acme"
    # one backup a day for 20 days, each also off-site
    made = [make_backup(directory, "acme", NOW - timedelta(days=d), size=512) for d in range(20)]
    for path in made:
        mark_offsite(path, s3.upload(settings, path))
    bucket = env["AWS_S3_BUCKET"]
    assert len(seaweed.keys(bucket)) == 20

    dry = run_cli(env, "backup", "prune", "--dry-run", "--json", check=True)
    plan = json.loads(dry.stdout)
    assert plan["dry_run"] is True
    (tenant,) = plan["tenants"]
    assert len(list(directory.glob("acme_*.zip"))) == 20  # nothing deleted by a dry run
    kept_names = {k["file"].rsplit("/", 1)[1] for k in tenant["kept_local"]}
    # 3 daily (today, -1, -2) + the newest of the previous ISO week
    assert made[0].name in kept_names and made[1].name in kept_names and made[2].name in kept_names
    assert 4 <= len(kept_names) <= 4
    assert {k["key"].rsplit("/", 1)[1] for k in tenant["kept_remote"]} == kept_names

    proc = run_cli(env, "backup", "prune")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("deleted 32 backup(s)")
    left = {p.name for p in directory.glob("acme_*.zip")}
    assert left == kept_names
    assert {k.rsplit("/", 1)[1] for k in seaweed.keys(bucket)} == kept_names
    for path in made:  # sidecars go with their backup
        assert checksum_path(path).exists() == (path.name in kept_names)


def test_prune_never_removes_the_newest_good_backup(saas_env):
    env = {**saas_env, "BACKUP_RETENTION_DAYS": "7"}
    settings = Settings.from_env(env)
    d = settings.backup_dir / "old-tenant"
    newest = make_backup(d, "old-tenant", NOW - timedelta(days=40))
    older = make_backup(d, "old-tenant", NOW - timedelta(days=50))
    unverified = make_backup(d, "old-tenant", NOW - timedelta(days=30))
    checksum_path(unverified).unlink()  # no checksum: not a good backup
    proc = run_cli(env, "backup", "prune", check=True)
    assert "deleted 2 backup(s)" in proc.stdout
    assert newest.exists() and not older.exists() and not unverified.exists()


def test_verify_good_tampered_and_unchecked(saas_env, tmp_path):
    settings = Settings.from_env(saas_env)
    path = make_backup(settings.backup_dir / "acme", "acme", NOW, fmt="sql.gz")
    path.write_bytes(gzip.compress(b"SELECT 1;\n" * 5000))
    write_checksum(path, sha256_file(path))
    proc = run_cli(saas_env, "backup", "verify", str(path))
    assert proc.returncode == 0 and proc.stdout.startswith("OK "), proc.stderr
    with open(path, "r+b") as fh:
        fh.seek(100)
        fh.write(b"\0")
    proc = run_cli(saas_env, "backup", "verify", str(path))
    assert proc.returncode == 1 and "does not match the recorded" in proc.stderr
    # a truncated stream whose checksum was (wrongly) recorded: the container check catches it
    path.write_bytes(gzip.compress(b"SELECT 1;\n" * 5000)[:-20])
    write_checksum(path, sha256_file(path))
    proc = run_cli(saas_env, "backup", "verify", str(path))
    assert proc.returncode == 1 and "not a complete gzip stream" in proc.stderr
    checksum_path(path).unlink()
    proc = run_cli(saas_env, "backup", "verify", str(path))
    assert proc.returncode == 1 and "no recorded checksum" in proc.stderr
    proc = run_cli(saas_env, "backup", "verify", str(tmp_path / "nope.zip"))
    assert proc.returncode == 1 and "does not exist" in proc.stderr


def test_verify_restore_test_uses_a_scratch_database_and_drops_it(tenant_env, pg):
    settings = Settings.from_env(tenant_env)
    tag = tenant_env["BK_TAG"]
    db = make_tenant(settings, f"{tag}_acme", files=4)
    run_cli(tenant_env, "backup", "run", "--format", "dump", check=True)
    (path,) = (settings.backup_dir / db).glob("*.dump")
    before = pg.databases()
    proc = run_cli(tenant_env, "backup", "verify", "--restore-test", "--json", str(path))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["restore_test"] and result["odoo_version"] == "19.0.1.3"
    assert result["installed_modules"] == 2
    assert pg.databases() == before  # scratch database dropped
    assert not [p for p in settings.filestore_root.iterdir() if p.name.startswith("odoo_saas_")]

    # from the bucket directly
    url = f"s3://{tenant_env['AWS_S3_BUCKET']}/odoo-backups/{db}/{path.name}"
    proc = run_cli(tenant_env, "backup", "verify", url)
    assert proc.returncode == 0 and "sha256 matches" in proc.stdout, proc.stderr


def test_verify_restore_test_refuses_a_database_of_another_odoo_version(tenant_env, pg):
    settings = Settings.from_env(tenant_env)
    tag = tenant_env["BK_TAG"]
    env = {**tenant_env, "ODOO_DB_FILTER": ""}
    db = make_tenant(settings, f"{tag}_v17", version="17.0.1.0")
    # a backup of a 17.0 database, taken with the single-tenant backup command
    from odoo_saas_tools.backups.backup import create_backup

    result = create_backup(Settings.from_env(env), db, settings.backup_dir / db, "zip")
    before = pg.databases()
    proc = run_cli(env, "backup", "verify", "--restore-test", str(result.path))
    assert proc.returncode == 1 and "not 19.0" in proc.stderr
    assert pg.databases() == before
