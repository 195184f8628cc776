"""Issue 11, "Nothing lost": each test reproduces an attack or a fault found on main before the
fix (named in its docstring) and checks that no tenant is lost, replaced by mistake or left
half-restored."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import psycopg2
import pytest

from odoo_saas_tools.backups import orphans
from odoo_saas_tools.backups.backup import create_backup
from odoo_saas_tools.backups.restore import restore_backup
from odoo_saas_tools.core.errors import ConfigError, SaasError
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.locks import LockLost
from odoo_saas_tools.tenants import hidden as hidden_dbs
from odoo_saas_tools.tenants.hidden import REPLACED_PREFIX as OLD_PREFIX
from odoo_saas_tools.tenants.hidden import RESTORE_PREFIX as TEMP_PREFIX
from odoo_saas_tools.tenants.locks import tenant_lock
from tests.backups.restore.conftest import db_rows, tenant_files, unique_name
from tests.support.cli import run_cli
from tests.support.wait import wait_until

PARTNERS = "SELECT count(*) FROM res_partner"


def hidden(settings) -> list[str]:
    rows = db_rows(settings, "postgres", "SELECT datname FROM pg_database ORDER BY 1")
    return [n for (n,) in rows if n.startswith((TEMP_PREFIX, OLD_PREFIX))]


def backup_of(settings, db, tmp_path) -> str:
    return str(create_backup(settings, db, tmp_path / db).path)


def test_forced_restore_keeps_a_last_backup_of_the_replaced_tenant(
    settings, saas_env, fake_tenant, tmp_path
):
    """Item 1: `--force` destroyed the replaced tenant with no way back."""
    db = fake_tenant(files=2)
    old_backup = backup_of(settings, db, tmp_path)
    db_rows(settings, db, "DELETE FROM res_partner WHERE id > 100 RETURNING id")  # newer state
    proc = run_cli(saas_env, "db", "restore", db, old_backup, "--force", "--json")
    assert proc.returncode == 0, proc.stderr
    saved = json.loads(proc.stdout)["replaced_backup"]
    assert saved and saved.startswith(str(settings.backup_dir / "replaced"))
    # The last backup really holds the replaced state: restore it elsewhere and count.
    copy = unique_name()
    restore_backup(settings, copy, saved)
    try:
        assert db_rows(settings, copy, PARTNERS) == [(100,)]
        assert db_rows(settings, db, PARTNERS) == [(500,)]
    finally:
        databases.drop(settings, copy)


def test_backup_of_another_tenant_cannot_replace_a_tenant_by_mistake(
    settings, saas_env, fake_tenant, tmp_path
):
    """Item 1: a backup of tenant A restored --force over tenant B went through silently."""
    a, b = fake_tenant(files=1), fake_tenant(files=3)
    before = tenant_files(settings, b)
    backup_a = backup_of(settings, a, tmp_path)
    proc = run_cli(saas_env, "db", "restore", b, backup_a, "--force")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0  # one line
    assert f"is a backup of {a}, not of {b}" in proc.stderr
    assert tenant_files(settings, b) == before and hidden(settings) == []
    proc = run_cli(saas_env, "db", "restore", b, backup_a, "--force", "--from-other-tenant")
    assert proc.returncode == 0, proc.stderr
    assert len(tenant_files(settings, b)) == 1


def test_backup_of_another_odoo_series_is_refused(settings, saas_env, fake_tenant, tmp_path):
    """Item 1: a backup of another Odoo major was restored with only a log line."""
    db = fake_tenant(files=1)
    path = tmp_path / "old-series.zip"
    with (
        zipfile.ZipFile(backup_of(settings, db, tmp_path)) as src,
        zipfile.ZipFile(path, "w") as dst,
    ):
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "manifest.json":
                manifest = json.loads(data)
                manifest.update(version="18.0", major_version="18.0")
                data = json.dumps(manifest).encode()
            dst.writestr(info, data)
    new = unique_name()
    with pytest.raises(ConfigError, match=r"backup of Odoo 18\.0"):
        restore_backup(settings, new, path)
    assert not databases.exists(settings, new) and hidden(settings) == []


def test_zip_bomb_is_refused_before_anything_is_written(settings, saas_env, fake_tenant, tmp_path):
    """Item 5: a 1 MB zip holding a 1 GiB member filled the shared data volume."""
    db = fake_tenant(files=1)
    bomb = tmp_path / "bomb.zip"
    with (
        zipfile.ZipFile(backup_of(settings, db, tmp_path)) as src,
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("filestore/00/" + "0" * 40, b"\0" * (64 * 1024**2))  # 64 MiB of zeros
    assert bomb.stat().st_size < 2 * 1024**2
    before = sum(1 for _ in settings.filestore_root.rglob("*"))
    proc = run_cli(saas_env, "db", "restore", unique_name(), str(bomb))
    assert proc.returncode == 1
    assert "refusing a zip bomb" in proc.stderr and "Traceback" not in proc.stderr
    assert sum(1 for _ in settings.filestore_root.rglob("*")) == before
    assert hidden(settings) == []


def test_restore_bigger_than_the_free_space_is_refused(
    settings, saas_env, fake_tenant, tmp_path, monkeypatch
):
    """Item 5: no free-space check; the restore ran until the volume was full (raw OSError)."""
    import shutil as real_shutil

    from odoo_saas_tools.backups import archive

    db = fake_tenant(files=3)
    path = backup_of(settings, db, tmp_path)
    usage = real_shutil.disk_usage(settings.data_dir)
    # The volume as it would be with only 100 MiB left (less than the margin for other tenants).
    monkeypatch.setattr(archive.shutil, "disk_usage", lambda p: usage._replace(free=100 * 1024**2))
    new = unique_name()
    with pytest.raises(SaasError, match="MiB are free"):
        restore_backup(settings, new, path)
    assert not databases.exists(settings, new) and hidden(settings) == []


def test_disk_errors_are_one_line(saas_env, tmp_path):
    """Item 5: an OSError ended in a traceback."""
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    env = {**saas_env, "BACKUP_DIR": str(locked / "sub")}
    proc = run_cli(env, "backup", "prune", "--dry-run")
    # root ignores directory modes: then the command simply works
    assert "Traceback" not in proc.stderr
    assert proc.returncode in (0, 1, 3)


def test_lock_lost_with_its_session_aborts_before_destroying(settings, fake_tenant):
    """Item 2: with idle_session_timeout the lock died silently and a second drop went through."""
    db = fake_tenant(files=1)
    role = settings.db_user
    with psycopg2.connect(**settings.connect_kwargs("postgres")) as conn:
        conn.autocommit = True
        with conn.cursor() as cr:
            cr.execute(f'ALTER ROLE "{role}" SET idle_session_timeout = 500')
    try:
        with tenant_lock(settings, db, operation="drop") as lock:
            time.sleep(1.0)  # idle longer than the role's timeout: the lock session survives
            lock.ensure_held("drop")
            with psycopg2.connect(**settings.connect_kwargs("postgres")) as killer:
                killer.autocommit = True
                with killer.cursor() as cr:
                    cr.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks "
                        "WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
                        " AND objid = %s::oid",
                        (lock.key[1] % 2**32,),
                    )
            with pytest.raises(LockLost, match="nothing destroyed"):
                lock.ensure_held("drop")
    finally:
        with psycopg2.connect(**settings.connect_kwargs("postgres")) as conn:
            conn.autocommit = True
            with conn.cursor() as cr:
                cr.execute(f'ALTER ROLE "{role}" RESET idle_session_timeout')
    assert databases.exists(settings, db)


def _restore_killed_at_swap(saas_env, db, backup, step):
    """`db restore --force` SIGKILLed right after the swap's step number `step` (1 = the tenant
    renamed away, 2 = its filestore moved, 3 = the new filestore moved in)."""
    script = f"""
import os, sys
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants import filestore
calls = {{"n": 0}}
def killer(real):
    def step(*a, **k):
        result = real(*a, **k)
        calls["n"] += 1
        if calls["n"] == {step}:
            os._exit(137)
        return result
    return step
databases.rename = killer(databases.rename)
filestore.rename = killer(filestore.rename)
from odoo_saas_tools.cli import main
args = ["db", "restore", {db!r}, {backup!r}, "--force", "--no-backup", "--from-other-tenant"]
sys.exit(main(args))
"""
    return subprocess.run(
        [sys.executable, "-c", script], env=saas_env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("step", [1, 2, 3])
def test_swap_cut_off_is_put_back_by_sweep(settings, saas_env, fake_tenant, tmp_path, step):
    """Item 3: a kill inside the restore swap left the tenant offline, renamed to
    odoo_saas_replaced_*, invisible; nobody swept the scratch database."""
    db = fake_tenant(files=2)
    newer = backup_of(settings, fake_tenant(files=4), tmp_path)
    before = (db_rows(settings, db, PARTNERS), tenant_files(settings, db))
    proc = _restore_killed_at_swap(saas_env, db, newer, step)
    assert proc.returncode == 137, proc.stderr
    assert not databases.exists(settings, db)  # offline, as the issue found it
    found = {o.kind: o for o in hidden_dbs.find(settings)}
    assert found["replaced"].tenant == db and not found["replaced"].busy
    listed = {
        r["name"]: r["state"] for r in json.loads(run_cli(saas_env, "db", "list", "--json").stdout)
    }
    assert listed[found["replaced"].name] == "orphaned-replaced"  # flagged, not hidden
    proc = run_cli(saas_env, "db", "sweep", "--json")
    assert proc.returncode == 0, proc.stderr
    assert databases.exists(settings, db)
    assert (db_rows(settings, db, PARTNERS), tenant_files(settings, db)) == before
    assert hidden(settings) == []
    assert run_cli(saas_env, "db", "sweep").returncode == 3  # nothing left to do


def test_sigterm_during_restore_unwinds(settings, saas_env, fake_tenant, tmp_path):
    """Item 3: SIGTERM (docker stop, supervisorctl stop) left odoo_saas_restore_* behind."""
    db = fake_tenant(files=2)
    newer = backup_of(settings, fake_tenant(files=1), tmp_path)
    before = tenant_files(settings, db)
    lock = psycopg2.connect(**settings.connect_kwargs(db))
    proc = None
    try:
        with lock.cursor() as cr:  # the last backup of db waits on this lock: SIGTERM it there
            cr.execute("LOCK TABLE res_partner IN ACCESS EXCLUSIVE MODE")
        proc = subprocess.Popen(
            [sys.executable, "-m", "odoo_saas_tools", "db", "restore", db, newer, "--force",
             "--from-other-tenant"],
            env=saas_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted"

        def backing_up() -> bool:
            assert proc.poll() is None, proc.communicate()
            return db_rows(settings, db, waiting) != [(0,)]

        wait_until(backing_up, 60, "the last backup to start", interval=0.1)
        assert hidden(settings)  # the scratch database exists now
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        lock.rollback()
        lock.close()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert hidden(settings) == []
    assert tenant_files(settings, db) == before


def test_orphans_are_flagged_and_left_alone_while_their_restore_runs(settings, fake_tenant):
    """Item 3: a sweep must never take a running restore's scratch database for an orphan."""
    from odoo_saas_tools.postgres.locks import advisory_lock

    scratch = TEMP_PREFIX + "feedbeef0001"
    databases.create_empty(settings, scratch)
    try:
        with advisory_lock(settings, scratch, busy="in use"):
            (o,) = [o for o in orphans.sweep(settings) if o.name == scratch]
            assert o.busy and "still running" in o.action
            assert databases.exists(settings, scratch)
        (o,) = [o for o in orphans.sweep(settings) if o.name == scratch]
        assert o.action == "removed" and not databases.exists(settings, scratch)
    finally:
        databases.drop_quietly(settings, scratch)
    assert os.path.exists(settings.data_dir)


def test_replaced_backups_are_pruned_by_retention(settings, saas_env, fake_tenant, tmp_path):
    """Item 1: last backups of replaced tenants must not pile up forever."""
    import shutil

    from odoo_saas_tools.backups.names import read_checksum, sha256_file, write_checksum
    from odoo_saas_tools.backups.restore import replaced_dir

    db = fake_tenant(files=1)
    made = create_backup(settings, db, replaced_dir(settings)).path
    assert read_checksum(made) is not None
    for stamp in ("20200101T000000Z", "20200102T000000Z"):
        old = replaced_dir(settings) / f"{db}_{stamp}.zip"
        shutil.copy(made, old)
        write_checksum(old, sha256_file(old))
    env = {**saas_env, "BACKUP_RETENTION_DAYS": "7"}
    proc = run_cli(env, "backup", "prune", "--json")
    assert proc.returncode == 0, proc.stderr
    left = sorted(p.name for p in replaced_dir(settings).glob("*.zip"))
    assert left == [made.name]
