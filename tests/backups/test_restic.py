"""The restic engine (BACKUP_OFFSITE=restic): real restic, real S3 (SeaweedFS), real PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import pytest

from odoo_saas_tools.backups.offsite import restic, restic_repo
from odoo_saas_tools.backups.retention import Policy
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.tenants.locks import tenant_lock
from tests.backups.conftest import ACCESS_KEY, SECRET_KEY, make_tenant
from tests.support.cli import run_cli
from tests.support.tenants import new_database

PASSWORD = "restic-repo-key-5b1f0e77"


@pytest.fixture
def restic_env(tenant_env: dict[str, str]) -> dict[str, str]:
    key_file = Path(tenant_env["BACKUP_DIR"]).parent / "restic-key"
    key_file.write_text(PASSWORD + "\n")
    key_file.chmod(0o600)
    return {
        **tenant_env,
        "BACKUP_OFFSITE": "restic",
        "BACKUP_ENCRYPTION_PASSWORD_FILE": str(key_file),
    }


def add_attachments(settings: Settings, db: str, count: int, size: int) -> list[bytes]:
    """Incompressible attachments (like photos), stored the way Odoo stores them."""
    datas = [os.urandom(size) for _ in range(count)]
    with connect(settings, db) as conn, conn.cursor() as cr:
        for data in datas:
            sha = hashlib.sha1(data).hexdigest()  # noqa: S324 - Odoo's filestore naming
            path = settings.filestore(db) / sha[:2] / sha
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            cr.execute("INSERT INTO ir_attachment (store_fname) VALUES (%s)", (f"{sha[:2]}/{sha}",))
    return datas


def partners(settings: Settings, db: str) -> int:
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute("SELECT count(*) FROM res_partner")
        return cr.fetchone()[0]


def add_partners(settings: Settings, db: str, n: int) -> None:
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute(
            "INSERT INTO res_partner (name) SELECT 'new ' || i FROM generate_series(1, %s) i", (n,)
        )


def files_of(settings: Settings, db: str) -> dict[str, bytes]:
    root = settings.filestore(db)
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def all_bytes(seaweed, bucket: str) -> bytes:
    client = seaweed.client()
    return b"".join(
        client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in seaweed.keys(bucket)
    )


def test_run_snapshots_deduplicate_encrypt_and_restore(restic_env, seaweed):
    settings = Settings.from_env(restic_env)
    db = make_tenant(settings, f"{restic_env['BK_TAG']}_acme")
    datas = add_attachments(settings, db, 8, 256 * 1024)
    bucket = restic_env["AWS_S3_BUCKET"]

    proc = run_cli(restic_env, "backup", "run", "--json")
    assert proc.returncode == 0, proc.stderr
    first = json.loads(proc.stdout)["tenants"][0]
    assert first["state"] == "ok" and first["offsite"] == "verified"
    assert first["file"].startswith(f"restic:{db}@")
    assert first["added_bytes"] > 2 * 1024 * 1024  # the attachments went in
    status = json.loads((settings.backup_dir / ".status" / f"{db}.json").read_text())
    assert status["last_added_bytes"] == first["added_bytes"]
    assert 0 < status["repository_size_bytes"] < first["added_bytes"] * 2
    keys = seaweed.keys(bucket)
    assert keys and all(k.startswith("odoo-backups/restic/") for k in keys)
    stored = all_bytes(seaweed, bucket)
    assert datas[0][:4096] not in stored  # encrypted on this side
    assert b"partner 17" not in stored
    for secret in (PASSWORD, SECRET_KEY):
        assert secret not in proc.stdout + proc.stderr

    # Unchanged tenant: the second snapshot adds almost nothing.
    proc = run_cli(restic_env, "backup", "run", "--json")
    assert proc.returncode == 0, proc.stderr
    second = json.loads(proc.stdout)["tenants"][0]
    assert second["added_bytes"] < first["added_bytes"] * 0.10, (first, second)

    # A change: rows and one attachment; then the list shows three snapshots.
    time.sleep(1.1)
    add_partners(settings, db, 50)
    add_attachments(settings, db, 1, 64 * 1024)
    run_cli(restic_env, "backup", "run", check=True)
    listed = json.loads(
        run_cli(restic_env, "backup", "list", "--remote", "--json", check=True).stdout
    )
    assert [r["database"] for r in listed] == [db] * 3
    assert all(r["url"].startswith(f"restic:{db}@") and r["odoo_version"] for r in listed)
    assert {r["where"] for r in listed} == {"restic"}  # the engine's name (the API's `where`)
    text = run_cli(restic_env, "backup", "list", "--remote", check=True).stdout
    assert text.count(f"restic:{db}@") == 3

    # Latest: everything as it is now.
    restored = f"{restic_env['BK_TAG']}_back"
    proc = run_cli(restic_env, "db", "restore", restored, f"restic:{db}", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["source"] == listed[-1]["url"] and result["attachments"] == 12
    assert partners(settings, restored) == 250
    assert files_of(settings, restored) == files_of(settings, db)

    # By id: the first snapshot; by time: the newest at or before the second one.
    proc = run_cli(restic_env, "db", "restore", "--force", restored, listed[0]["url"])
    assert proc.returncode == 0, proc.stderr
    assert partners(settings, restored) == 200
    assert len(files_of(settings, restored)) == 11
    at = datetime.fromisoformat(listed[1]["taken_at"]).astimezone(timezone.utc)
    stamp = (at + timedelta(seconds=0.5)).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    proc = run_cli(restic_env, "db", "restore", "--force", restored, f"restic:{db}@{stamp}")
    assert proc.returncode == 0, proc.stderr
    assert partners(settings, restored) == 200

    # Nothing before the first snapshot: one line, the tenant left as it was.
    proc = run_cli(restic_env, "db", "restore", "--force", restored, f"restic:{db}@2001-01-01")
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "no restic snapshot" in proc.stderr
    assert partners(settings, restored) == 200

    # verify: restic check, and a restore into a scratch database.
    proc = run_cli(restic_env, "backup", "verify", "restic:")
    assert proc.returncode == 0, proc.stderr
    assert "no errors were found" in proc.stdout
    proc = run_cli(restic_env, "backup", "verify", f"restic:{db}", "--restore-test", "--json")
    assert proc.returncode == 0, proc.stderr
    verified = json.loads(proc.stdout)
    assert verified["restore_test"] is True and verified["odoo_version"] == "19.0.1.3"
    assert verified["file"] == listed[-1]["url"]


def test_clone_shares_its_attachments_chunks(restic_env):
    settings = Settings.from_env(restic_env)
    tag = restic_env["BK_TAG"]
    db = make_tenant(settings, f"{tag}_tpl")
    add_attachments(settings, db, 6, 512 * 1024)
    first = restic.back_up(settings, db)
    clone = f"{tag}_clone"
    new_database(settings, clone, template=db)
    subprocess.run(["cp", "-a", settings.filestore(db), settings.filestore(clone)], check=True)

    second = restic.back_up(settings, clone)
    assert second.attachments == first.attachments == 9
    # Its dump (a few KiB here) and metadata, not its 3 MiB of attachments again.
    assert second.added_bytes < 0.05 * first.added_bytes, (first, second)


def test_wrong_password_is_one_line_and_writes_nothing(restic_env, seaweed):
    settings = Settings.from_env(restic_env)
    db = make_tenant(settings, f"{restic_env['BK_TAG']}_pw")
    run_cli(restic_env, "backup", "run", check=True)
    bucket = restic_env["AWS_S3_BUCKET"]
    before = seaweed.keys(bucket)

    wrong = {**restic_env, "BACKUP_ENCRYPTION_PASSWORD_FILE": "", "BACKUP_ENCRYPTION_PASSWORD": "x"}
    for argv in (["backup", "run"], ["db", "restore", f"{db}_x", f"restic:{db}"]):
        proc = run_cli(wrong, *argv)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        err = proc.stderr.strip()
        assert "BACKUP_ENCRYPTION_PASSWORD does not open the restic repository" in err
        assert err.count("\n") == 0, err
    assert seaweed.keys(bucket) == before


def test_a_snapshot_loading_more_than_the_bound_is_stopped(restic_env):
    """Issue 26 item 10: the restic path's dump is bounded too (RESTORE_MAX_DB_SIZE)."""
    settings = Settings.from_env(restic_env)
    db = make_tenant(settings, f"{restic_env['BK_TAG']}_big")
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute("CREATE TABLE big AS SELECT md5(i::text) AS x FROM generate_series(1, 200000) i")
    run_cli(restic_env, "backup", "run", check=True)  # ~7 MiB of SQL
    copy = f"{db}_copy"
    small = {**restic_env, "RESTORE_MAX_DB_SIZE": "2M"}
    proc = run_cli(small, "db", "restore", copy, f"restic:{db}")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    err = proc.stderr.strip()
    assert "what a restore may load (2.0 MiB, RESTORE_MAX_DB_SIZE" in err, err
    # One line of ours. Seen once on a loaded machine: psycopg2 (its C code, as the server ends
    # the session mid-COPY) prints the AdminShutdown it was handed to stderr itself, before our
    # line; a known defect of that race, left to say so rather than hidden (issue 26 note).
    *before, last = err.splitlines()
    assert "nothing restored" in last and last.startswith("odoo-saas: error: "), err
    assert "Traceback" not in err, err
    assert not before or before[0].startswith("psycopg2.errors.AdminShutdown: terminating"), err
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (f"%{copy}%",))
        assert cr.fetchall() == []
        cr.execute("SELECT count(*) FROM pg_database WHERE starts_with(datname, 'odoo_saas_rest')")
        assert cr.fetchone()[0] == 0
    assert not settings.filestore(copy).exists()


def test_engine_is_refused_without_password_or_bucket(restic_env):
    env = {**restic_env, "BACKUP_ENCRYPTION_PASSWORD_FILE": ""}
    proc = run_cli(env, "backup", "run")
    assert proc.returncode == 2
    assert "BACKUP_OFFSITE=restic needs BACKUP_ENCRYPTION_PASSWORD" in proc.stderr
    proc = run_cli({**restic_env, "AWS_S3_BUCKET": ""}, "backup", "list", "--remote")
    assert proc.returncode == 2 and "needs AWS_S3_BUCKET" in proc.stderr
    name = f"{restic_env['BK_TAG']}_y"
    proc = run_cli(restic_env, "db", "restore", name, "restic:acme@not-a-time")
    assert proc.returncode == 2 and "neither a snapshot id" in proc.stderr
    with pytest.raises(ConfigError):
        restic.parse_source("restic:")


@pytest.mark.unit
def test_forget_args_map_the_retention_settings():
    assert restic_repo.forget_args(Policy(retention_days=7)) == [
        "--keep-last",
        "1",
        "--keep-within",
        "7d",
    ]
    gfs = Policy(retention_days=7, keep_daily=7, keep_weekly=4, keep_monthly=None)
    assert restic_repo.forget_args(gfs) == [
        "--keep-last",
        "1",
        "--keep-daily",
        "7",
        "--keep-weekly",
        "4",
    ]


def test_retention_forgets_per_tenant_and_prune_frees_space(restic_env):
    env = {**restic_env, "BACKUP_RETENTION_DAYS": "2"}
    settings = Settings.from_env(env)
    tag = env["BK_TAG"]
    db = make_tenant(settings, f"{tag}_ret")
    other = make_tenant(settings, f"{tag}_keep")
    now = datetime.now(timezone.utc)
    restic.back_up(settings, other, when=now - timedelta(days=30))  # alone: its newest, kept
    for days in (10, 5, 1, 0):  # each snapshot holds its own attachment only
        with connect(settings, db) as conn, conn.cursor() as cr:
            cr.execute("DELETE FROM ir_attachment")
        for path in settings.filestore(db).rglob("*"):
            if path.is_file():
                path.unlink()
        add_attachments(settings, db, 1, 256 * 1024)
        restic.back_up(settings, db, when=now - timedelta(days=days, minutes=1))

    proc = run_cli(env, "backup", "prune", "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    tenants = {t["database"]: t for t in json.loads(proc.stdout)["tenants"]}
    assert len(tenants[db]["deleted_remote"]) == 2 and len(tenants[db]["kept_remote"]) == 2
    assert tenants[other]["deleted_remote"] == [] and len(tenants[other]["kept_remote"]) == 1
    assert len(restic_repo.snapshots(settings, db)) == 4  # a dry run

    size = restic_repo.repository_size(settings)
    proc = run_cli(env, "backup", "prune")
    assert proc.returncode == 0, proc.stderr
    assert "deleted 2 backup(s)" in proc.stdout
    assert len(restic_repo.snapshots(settings, db)) == 2
    assert len(restic_repo.snapshots(settings, other)) == 1
    assert restic_repo.repository_size(settings) < size - 400 * 1024  # two attachments' data freed
    assert restic_repo.last_maintenance(settings) is not None and not restic_repo.maintenance_due(
        settings
    )
    assert "no errors were found" in restic_repo.check(settings)


def _is_restic_backup(child: psutil.Process) -> bool:
    """A child may end (or wait as a zombie) between being listed and being looked at."""
    try:
        return child.name() == "restic" and "backup" in child.cmdline()
    except psutil.NoSuchProcess:  # ZombieProcess included
        return False


def test_run_killed_mid_upload_leaves_a_consistent_repository(restic_env, seaweed):
    settings = Settings.from_env(restic_env)
    db = make_tenant(settings, f"{restic_env['BK_TAG']}_kill")
    run_cli(restic_env, "backup", "run", check=True)  # the repository exists
    add_attachments(settings, db, 40, 1024 * 1024)
    bucket = restic_env["AWS_S3_BUCKET"]
    data_before = len(seaweed.keys(bucket, "odoo-backups/restic/data/"))

    proc = subprocess.Popen(
        [sys.executable, "-m", "odoo_saas_tools", "backup", "run"],
        env=restic_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    killed_mid_upload = False
    uploaders: list[psutil.Process] = []
    while time.monotonic() < deadline and proc.poll() is None:
        uploaders = [
            c for c in psutil.Process(proc.pid).children(recursive=True) if _is_restic_backup(c)
        ]
        if uploaders and len(seaweed.keys(bucket, "odoo-backups/restic/data/")) > data_before:
            os.killpg(proc.pid, signal.SIGKILL)
            killed_mid_upload = True
            break
        time.sleep(0.02)
    proc.wait()
    assert killed_mid_upload, "the run finished before it could be killed"
    # The killed restic, an orphan now, is reaped by PID 1 a moment later (1-3 s here); until
    # then it is a zombie whose pid exists, and restic takes its lock for a live one ("locked
    # by another operation", exit 4, as a hoster would see right after such a kill).
    _gone, alive = psutil.wait_procs(uploaders, timeout=30)
    assert not alive, f"the killed restic processes never went away: {alive}"
    assert len(restic_repo.snapshots(settings, db)) == 1  # no snapshot of the killed run
    with tenant_lock(settings, db, operation="test"):  # the killed run's lock is gone
        pass

    proc2 = run_cli(restic_env, "backup", "verify", "restic:")
    assert proc2.returncode == 0, proc2.stderr
    proc2 = run_cli(restic_env, "backup", "run", "--json")
    assert proc2.returncode == 0, proc2.stderr
    assert len(restic_repo.snapshots(settings, db)) == 2
    assert "no errors were found" in restic_repo.check(settings)
    assert ACCESS_KEY not in proc2.stdout


def test_status_file_and_exporter_carry_added_bytes_and_repository_size(settings):
    from prometheus_client import generate_latest

    from odoo_saas_tools.backups import status as backup_status
    from odoo_saas_tools.observability.metrics.collector import families

    backup_status.record(settings, "a", ok=True, offsite="verified", added=10, repository_size=500)
    backup_status.record(settings, "b", ok=True, offsite="verified", when=1.0)
    backup_status.record(settings, "a", ok=False, offsite="failed", error="x")  # keeps them
    statuses = backup_status.read_statuses(settings)
    assert statuses["a"].last_added_bytes == 10 and statuses["a"].repository_size_bytes == 500
    assert statuses["b"].last_added_bytes is None

    class Registry:
        def collect(self):
            from odoo_saas_tools.observability.metrics.refresher import Figures
            from odoo_saas_tools.observability.metrics.tenant_scans import TenantScan

            scan = TenantScan("19.0.1.3", 0)
            return families(Figures(backups=statuses, tenants={"a": scan, "b": scan}))

    text = generate_latest(Registry()).decode()  # type: ignore[arg-type]
    assert 'odoo_backup_last_added_bytes{database="a"} 10.0' in text
    assert "odoo_backup_repository_size_bytes 500.0" in text
    assert 'odoo_backup_last_added_bytes{database="b"}' not in text
