"""`backup run` end to end: real PostgreSQL, real S3 (SeaweedFS), the real CLI process."""

from __future__ import annotations

import json
import re
from pathlib import Path

from odoo_saas_tools.backups.names import parse_backup_name, read_checksum, sha256_file
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants.locks import tenant_lock
from tests.backups.conftest import ACCESS_KEY, make_tenant
from tests.support.cli import run_cli

STATUS_KEYS = {
    "database",
    "last_success",
    "last_failure",
    "last_error",
    "last_duration_seconds",
    "last_size_bytes",
    "failures_total",
    "last_file",
    "offsite",
    "last_added_bytes",  # restic engine; null with s3
    "repository_size_bytes",  # restic engine; null with s3
}


def backups_of(settings: Settings, db: str) -> list[Path]:
    d = settings.backup_dir / db
    return sorted(p for p in d.iterdir() if parse_backup_name(p.name)) if d.is_dir() else []


def status(settings: Settings, db: str) -> dict:
    return json.loads((settings.backup_dir / ".status" / f"{db}.json").read_text())


def test_run_backs_up_every_tenant_off_site_and_records_status(tenant_env, seaweed):
    settings = Settings.from_env(tenant_env)
    tag = tenant_env["BK_TAG"]
    a = make_tenant(settings, f"{tag}_alpha")
    b = make_tenant(settings, f"{tag}_beta.x", files=5)
    make_tenant(settings, f"{tag}_old", version="17.0.1.0")  # not Odoo 19: not a tenant here
    make_tenant(settings, f"odoo_saas_{tag}_cache")  # reserved prefix: never backed up

    proc = run_cli(tenant_env, "backup", "run", "--concurrency", "2")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    assert re.match(r"backup run: 2/2 tenant\(s\) backed up, .* 2 verified off-site", lines[0])
    assert ACCESS_KEY not in proc.stdout + proc.stderr

    bucket = tenant_env["AWS_S3_BUCKET"]
    for db in (a, b):
        files = backups_of(settings, db)
        assert len(files) == 1 and files[0].suffix == ".zip"
        assert read_checksum(files[0]) == sha256_file(files[0])
        assert seaweed.keys(bucket, f"odoo-backups/{db}/") == [f"odoo-backups/{db}/{files[0].name}"]
        st = status(settings, db)
        assert set(st) == STATUS_KEYS
        assert st["database"] == db and st["offsite"] == "verified"
        assert st["last_failure"] is None and st["failures_total"] == 0
        assert st["last_size_bytes"] == files[0].stat().st_size
        assert st["last_file"] == str(files[0]) and st["last_duration_seconds"] > 0
    assert not (settings.backup_dir / f"{tag}_old").exists()
    assert not list(settings.backup_dir.glob("odoo_saas_*"))
    assert sorted(k.split("/")[1] for k in seaweed.keys(bucket)) == sorted([a, b])

    # --json for scripts; a second run adds a second backup, nothing re-uploaded needlessly.
    proc = run_cli(tenant_env, "backup", "run", "--json", a)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] is True and [t["database"] for t in data["tenants"]] == [a]
    assert len(data["tenants"][0]["uploaded"]) == 1
    assert len(backups_of(settings, a)) == 2

    listed = json.loads(run_cli(tenant_env, "backup", "list", "--json", a, check=True).stdout)
    assert [Path(r["file"]).name for r in listed] == [p.name for p in backups_of(settings, a)]
    assert all(r["offsite"] for r in listed)
    remote = json.loads(
        run_cli(tenant_env, "backup", "list", "--remote", "--json", check=True).stdout
    )
    assert sorted(r["url"].rsplit("/", 1)[1] for r in remote) == sorted(
        p.name for db in (a, b) for p in backups_of(settings, db)
    )
    assert {r["where"] for r in remote} == {"s3"}  # the engine's name (the API's `where`)


def test_failing_and_busy_tenants_do_not_stop_the_others(tenant_env):
    settings = Settings.from_env(tenant_env)
    tag = tenant_env["BK_TAG"]
    good = [make_tenant(settings, f"{tag}_ok{i}") for i in range(3)]
    broken = make_tenant(settings, f"{tag}_broken")
    busy = make_tenant(settings, f"{tag}_busy")
    # broken: an attachment whose file is gone -> its backup fails
    victim = next(p for p in settings.filestore(broken).rglob("*") if p.is_file())
    victim.unlink()

    with tenant_lock(settings, busy, operation="test"):
        proc = run_cli(tenant_env, "backup", "run", "--concurrency", "2")
    assert proc.returncode == 1
    line = proc.stdout.strip()
    assert "\n" not in line
    assert "3/5 tenant(s) backed up" in line and "FAILED 2" in line
    assert f"{broken}: " in line and "missing" in line
    assert f"{busy}: " in line and "busy" in line
    for db in good:
        assert len(backups_of(settings, db)) == 1
        assert status(settings, db)["last_success"] is not None
    assert backups_of(settings, broken) == []
    st = status(settings, broken)
    assert (
        st["failures_total"] == 1 and st["last_success"] is None and "missing" in st["last_error"]
    )
    assert status(settings, busy)["failures_total"] == 1
    assert not [p for p in settings.backup_dir.rglob("*.partial")]

    # Fixed: the next run succeeds and the status says so, keeping the failure count.
    proc = run_cli(tenant_env, "backup", "run", busy)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    st = status(settings, busy)
    assert st["last_error"] is None and st["failures_total"] == 1 and st["last_success"]


def test_failed_upload_leaves_no_remote_object_and_is_retried_next_run(
    tenant_env, seaweed, tmp_path
):
    settings = Settings.from_env(tenant_env)
    tag = tenant_env["BK_TAG"]
    db = make_tenant(settings, f"{tag}_acme")
    bad_secret = tmp_path / "wrong-secret"
    bad_secret.write_text("definitely-wrong-secret-99\n")
    bad_env = {**tenant_env, "AWS_SECRET_ACCESS_KEY_FILE": str(bad_secret)}

    proc = run_cli(bad_env, "backup", "run")
    assert proc.returncode == 1
    assert (
        "off-site copy failed" in proc.stdout
        and "definitely-wrong" not in proc.stdout + proc.stderr
    )
    first = backups_of(settings, db)
    assert len(first) == 1  # the local file is kept
    bucket = tenant_env["AWS_S3_BUCKET"]
    assert seaweed.keys(bucket) == []
    st = status(settings, db)
    assert st["offsite"] == "failed" and st["failures_total"] == 1 and st["last_success"] is None

    proc = run_cli(tenant_env, "backup", "run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    both = backups_of(settings, db)
    assert len(both) == 2
    assert seaweed.keys(bucket) == [f"odoo-backups/{db}/{p.name}" for p in both]
    st = status(settings, db)
    assert st["offsite"] == "verified" and st["last_error"] is None


def test_restore_straight_from_the_bucket(tenant_env, pg):
    """The off-site copy is a working backup: `db restore NAME s3://...` brings the tenant back."""
    settings = Settings.from_env(tenant_env)
    tag = tenant_env["BK_TAG"]
    db = make_tenant(settings, f"{tag}_src", files=4)
    run_cli(tenant_env, "backup", "run", check=True)
    (url,) = [
        r["url"]
        for r in json.loads(run_cli(tenant_env, "backup", "list", "--remote", "--json").stdout)
    ]
    target = f"{tag}_restored"
    proc = run_cli(tenant_env, "db", "restore", target, url)
    assert proc.returncode == 0, proc.stderr
    with pg.admin(target) as conn, conn.cursor() as cr:
        cr.execute("SELECT count(*) FROM res_partner")
        assert cr.fetchone()[0] == 200
    src_files = sorted(p.name for p in settings.filestore(db).rglob("*") if p.is_file())
    got = sorted(p.name for p in settings.filestore(target).rglob("*") if p.is_file())
    assert got == src_files and len(got) == 4
    assert not [p for p in settings.backup_dir.rglob("*.partial")]
