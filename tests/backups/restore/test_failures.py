"""Failures lose nothing: corrupt files, SQL errors, missing files, hostile names, busy tenants."""

from __future__ import annotations

import gzip
import shutil
import zipfile

import pytest
from psycopg2 import sql

from odoo_saas_tools.backups.backup import create_backup
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants.hidden import REPLACED_PREFIX as OLD_PREFIX
from odoo_saas_tools.tenants.hidden import RESTORE_PREFIX as TEMP_PREFIX
from odoo_saas_tools.tenants.locks import tenant_lock
from tests.backups.restore.conftest import db_rows, partial_files, tenant_files, unique_name
from tests.support.cli import run_cli
from tests.support.tenants import new_database

STATE = "SELECT key, value FROM ir_config_parameter ORDER BY key"

# Scratch names of restore (other areas' template caches share the cluster)
SCRATCH = (TEMP_PREFIX, OLD_PREFIX)


def _snapshot(settings, db):
    return (
        db_rows(settings, db, STATE),
        db_rows(settings, db, "SELECT count(*) FROM res_partner"),
        tenant_files(settings, db),
    )


def _no_scratch_left(settings):
    names = [r[0] for r in db_rows(settings, "postgres", "SELECT datname FROM pg_database")]
    assert [n for n in names if n.startswith(SCRATCH)] == []
    if settings.filestore_root.exists():
        assert [
            p.name for p in settings.filestore_root.iterdir() if p.name.startswith(SCRATCH)
        ] == []


def _corrupt_copy(src, dest, member="filestore/"):
    """Flip bytes inside the data of a member (CRC or the deflate stream must catch it)."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as zf:
        info = [i for i in zf.infolist() if i.filename.startswith(member)][-1]
    start = info.header_offset + 30 + len(info.filename) + 64
    data[start : start + 8] = b"\xff" * 8
    dest.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage",
    ["truncated", "bad-crc", "bad-dump", "sql-error", "truncated-sql-gz", "not-a-backup"],
)
def test_failing_forced_restore_leaves_old_tenant_intact(
    settings, saas_env, fake_tenant, tmp_path, damage
):
    src = fake_tenant(files=3)
    victim = fake_tenant(files=4)
    before = _snapshot(settings, victim)
    good = create_backup(settings, src).path
    # The origin's files would be hard-linked instead of read from the (damaged) backup
    shutil.rmtree(settings.filestore(src))
    bad = tmp_path / f"bad_{damage}.zip"
    if damage == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif damage == "bad-crc":
        _corrupt_copy(good, bad)
    elif damage == "bad-dump":
        _corrupt_copy(good, bad, "dump.sql")
    elif damage == "sql-error":
        bad = tmp_path / "broken.sql.gz"
        with zipfile.ZipFile(good) as zf:
            dump = zf.read("dump.sql")
        # a statement failing in the middle of an otherwise valid dump
        cut = dump.index(b"\nCOPY ")
        bad.write_bytes(gzip.compress(dump[:cut] + b"\nSELECT no_such_function();\n" + dump[cut:]))
    elif damage == "truncated-sql-gz":
        bad = tmp_path / "cut.sql.gz"
        with zipfile.ZipFile(good) as zf:
            dump = zf.read("dump.sql")
        # cut inside a table's rows: the gzip stream ends while its COPY is being fed
        packed = gzip.compress(dump[: dump.index(b"\nCOPY ") + 200] + b"x" * 100_000)
        bad.write_bytes(packed[: len(packed) - 64])
    else:
        bad.write_bytes(b"\x00\x01 not a backup at all")
    proc = run_cli(saas_env, "db", "restore", victim, str(bad), "--force", "--from-other-tenant")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("odoo-saas: error: ")
    assert len(proc.stderr.strip().splitlines()) == 1
    if damage == "truncated-sql-gz":  # the file named, not psycopg2's wrapping of the read
        assert "cut.sql.gz is not a valid gzip file" in proc.stderr, proc.stderr
    assert _snapshot(settings, victim) == before
    _no_scratch_left(settings)


def test_sql_error_fails_a_fresh_restore(settings, saas_env, fake_tenant, tmp_path):
    src = fake_tenant(files=0)
    with zipfile.ZipFile(create_backup(settings, src).path) as zf:
        dump = zf.read("dump.sql")
    bad = tmp_path / "broken.sql"
    bad.write_bytes(
        dump + b"\nINSERT INTO public.res_partner (id, name) VALUES (1, 'duplicate key');\n"
    )
    target = unique_name()
    proc = run_cli(saas_env, "db", "restore", target, str(bad))
    assert proc.returncode == 1
    assert "loading the dump into" in proc.stderr and "duplicate key" in proc.stderr
    assert not databases.exists(settings, target)
    assert not settings.filestore(target).exists()
    _no_scratch_left(settings)


def test_zip_slip_member_refused(settings, saas_env, fake_tenant, tmp_path):
    src = fake_tenant(files=1)
    good = create_backup(settings, src).path
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(evil, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        zout.writestr("filestore/../../escaped.txt", b"pwned")
    target = unique_name()
    proc = run_cli(saas_env, "db", "restore", target, str(evil))
    assert proc.returncode == 1 and "outside the filestore" in proc.stderr
    assert not (settings.data_dir / "escaped.txt").exists()
    assert not (settings.filestore_root / "escaped.txt").exists()
    assert not databases.exists(settings, target)
    _no_scratch_left(settings)


def test_pg_dump_failure_leaves_no_partial(pg, settings, saas_env, fake_tenant):
    db = fake_tenant(files=2)
    with pg.admin(db) as conn, conn.cursor() as cr:  # a table the tenant's role cannot read
        cr.execute("CREATE TABLE secret_stuff (x int)")
        cr.execute(sql.SQL("REVOKE ALL ON secret_stuff FROM PUBLIC"))
    for fmt in ("zip", "dump", "sql.gz"):
        proc = run_cli(saas_env, "db", "backup", db, "--format", fmt)
        assert proc.returncode == 1, proc.stdout
        assert "pg_dump" in proc.stderr and "permission denied" in proc.stderr
    directory = settings.backup_dir / db
    assert partial_files(settings.backup_dir) == []
    assert not directory.exists() or list(directory.iterdir()) == []


@pytest.mark.parametrize(
    "name",
    [
        "x; rm -rf /",
        "../etc",
        "-rf",
        "postgres",
        "odoo_saas_restore_x",
        "a" * 64,
        "$(id)",
        "a b",
    ],
)
def test_hostile_names_rejected(saas_env, tmp_path, name):
    for args in (("backup", "--", name), ("restore", "--", name, str(tmp_path / "x.zip"))):
        proc = run_cli(saas_env, "db", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "name" in proc.stderr
    assert list((tmp_path / "backups").iterdir()) == []


def test_busy_tenant_exits_4(settings, saas_env, fake_tenant):
    db = fake_tenant(files=1)
    path = create_backup(settings, db).path
    with tenant_lock(settings, db, operation="test"):
        backup = run_cli(saas_env, "db", "backup", db)
        restore = run_cli(saas_env, "db", "restore", db, str(path), "--force")
    assert backup.returncode == 4 and "busy" in backup.stderr
    assert restore.returncode == 4 and "busy" in restore.stderr
    assert [p for p in path.parent.iterdir() if p.suffix == ".zip"] == [path]


def test_concurrent_backup_and_restore_are_serialized(settings, saas_env, fake_tenant, tmp_path):
    """Two real processes at once on one tenant: one works, the other says busy (exit 4)."""
    import subprocess
    import sys

    db = fake_tenant(files=30)
    path = create_backup(settings, db).path
    cmds = [
        ["db", "restore", db, str(path), "--force"],
        ["db", "backup", db, "--format", "dump"],
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "odoo_saas_tools", *c],
            env=saas_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c in cmds
    ]
    codes = [p.wait(timeout=120) for p in procs]
    assert sorted(codes) in ([0, 0], [0, 4]), [p.stderr.read() for p in procs]
    assert databases.exists(settings, db)
    assert len(tenant_files(settings, db)) == 30
    _no_scratch_left(settings)


def test_missing_backup_file_and_unknown_database(settings, saas_env, tmp_path):
    proc = run_cli(saas_env, "db", "restore", unique_name(), str(tmp_path / "nope.zip"))
    assert proc.returncode == 1 and "does not exist" in proc.stderr
    proc = run_cli(saas_env, "db", "backup", unique_name())
    assert proc.returncode == 1 and "does not exist" in proc.stderr


def test_not_an_odoo_database(settings, saas_env):
    name = unique_name()
    new_database(settings, name)
    try:
        proc = run_cli(saas_env, "db", "backup", name)
        assert proc.returncode == 1 and "not an Odoo database" in proc.stderr
    finally:
        databases.drop(settings, name)
