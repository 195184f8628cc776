"""Backup and restore with real PostgreSQL and fake Odoo databases (no Odoo needed)."""

from __future__ import annotations

import gzip
import json
import os
import pwd
import subprocess
import zipfile
from pathlib import Path

import pytest

from odoo_saas_tools.backups import names as backup_names
from odoo_saas_tools.backups.backup import create_backup
from odoo_saas_tools.backups.restore import restore_backup
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants.hidden import REPLACED_PREFIX as OLD_PREFIX
from odoo_saas_tools.tenants.hidden import RESTORE_PREFIX as TEMP_PREFIX
from tests.backups.restore.conftest import (
    add_attachment,
    db_rows,
    partial_files,
    tenant_files,
    unique_name,
)
from tests.support.cli import run_cli

CONTENT = "SELECT id, name, note FROM res_partner ORDER BY id"
PARAMS = "SELECT key, value FROM ir_config_parameter ORDER BY key"

# Scratch names of restore (other areas' template caches share the cluster)
SCRATCH = (TEMP_PREFIX, OLD_PREFIX)


@pytest.mark.parametrize("fmt", ["zip", "dump", "sql.gz"])
def test_each_format_round_trips(settings, fake_tenant, fmt):
    db = fake_tenant(files=6)
    result = create_backup(settings, db, fmt=fmt)
    assert result.path.parent == settings.backup_dir / db
    assert backup_names.parse_backup_name(result.path.name).ext == fmt
    assert backup_names.read_checksum(result.path) == backup_names.sha256_file(result.path)
    assert result.size_bytes == result.path.stat().st_size
    assert result.path.stat().st_mode & 0o077 == 0
    assert partial_files(settings.backup_dir) == []
    target = unique_name()
    restored = restore_backup(settings, target, result.path)
    assert db_rows(settings, target, CONTENT) == db_rows(settings, db, CONTENT)
    # disaster recovery keeps the identity
    assert db_rows(settings, target, PARAMS) == db_rows(settings, db, PARAMS)
    if fmt == "sql.gz":
        assert restored.attachments == 0 and restored.missing_attachments == 6
    else:
        assert restored.attachments == 6
        assert tenant_files(settings, target) == tenant_files(settings, db)
    # sha256sum can check the sidecar
    subprocess.run(
        ["sha256sum", "-c", result.path.name + ".sha256"], cwd=result.path.parent, check=True
    )


def test_zip_layout_is_odoos(settings, fake_tenant):
    db = fake_tenant(files=3)
    path = create_backup(settings, db).path
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
        dump = zf.read("dump.sql")
        infos = {i.filename: i for i in zf.infolist()}
    assert {"dump.sql", "manifest.json"} <= set(names)
    assert sorted(n for n in names if n.startswith("filestore/")) == sorted(
        "filestore/" + k for k in tenant_files(settings, db)
    )
    assert manifest["odoo_dump"] == "1" and manifest["db_name"] == db
    assert manifest["version"] == "19.0" and manifest["major_version"] == "19.0"
    assert manifest["version_info"] == [19, 0, 0, "final", 0, ""]
    assert manifest["modules"] == {"base": "19.0.1.3", "web": "19.0.1.0"}
    assert manifest["pg_version"].split(".")[0].isdigit()
    assert b"ALTER TABLE" in dump and b"OWNER TO" not in dump  # --no-owner
    assert infos["dump.sql"].compress_type == zipfile.ZIP_DEFLATED
    for name, info in infos.items():
        if name.startswith("filestore/"):
            assert info.compress_type == zipfile.ZIP_STORED


def test_only_referenced_files_and_consistent_snapshot(settings, fake_tenant):
    db = fake_tenant(files=2)
    stray = settings.filestore(db) / "ff" / ("f" * 40)
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"garbage awaiting Odoo's GC")
    path = create_backup(settings, db).path
    with zipfile.ZipFile(path) as zf:
        assert len([n for n in zf.namelist() if n.startswith("filestore/")]) == 2


def test_missing_attachment_fails_and_leaves_nothing(settings, saas_env, fake_tenant):
    db = fake_tenant(files=3)
    fname = add_attachment(settings, db, b"will vanish")
    (settings.filestore(db) / fname).unlink()
    for fmt in ("zip", "dump"):
        proc = run_cli(saas_env, "db", "backup", db, "--format", fmt)
        assert proc.returncode == 1, proc.stderr
        assert "missing" in proc.stderr and fname in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    directory = settings.backup_dir / db
    assert list(directory.iterdir()) == [] if directory.exists() else True


def test_cli_prints_path_last_and_json(settings, saas_env, fake_tenant, tmp_path):
    db = fake_tenant(files=1)
    out = tmp_path / "elsewhere"
    proc = run_cli(saas_env, "db", "backup", db, str(out), "--format", "sql.gz")
    assert proc.returncode == 0, proc.stderr
    last = Path(proc.stdout.strip().splitlines()[-1])
    assert last.parent == out and last.is_file()
    with gzip.open(last) as fh:
        assert b"PostgreSQL database dump complete" in fh.read()
    proc = run_cli(saas_env, "db", "backup", db, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["database"] == db and data["fmt"] == "zip" and Path(data["path"]).is_file()


def test_restore_refuses_existing_without_force(settings, saas_env, fake_tenant):
    db = fake_tenant(files=1)
    other = fake_tenant(files=2)
    path = create_backup(settings, db).path
    proc = run_cli(saas_env, "db", "restore", other, str(path))
    assert proc.returncode == 1 and "--force" in proc.stderr
    assert len(db_rows(settings, other, "SELECT 1 FROM ir_attachment")) == 2


def test_forced_restore_replaces_database_and_filestore(settings, saas_env, fake_tenant):
    src = fake_tenant(files=2)
    victim = fake_tenant(files=4)
    path = create_backup(settings, src, fmt="dump").path
    proc = run_cli(
        saas_env, "db", "restore", victim, str(path), "--force", "--from-other-tenant", "-j", "2"
    )
    assert proc.returncode == 0, proc.stderr
    assert db_rows(settings, victim, PARAMS) == db_rows(settings, src, PARAMS)
    assert tenant_files(settings, victim) == tenant_files(settings, src)
    leftovers = [d for d in _databases(settings) if d.startswith(SCRATCH)]
    assert leftovers == []
    assert (
        sorted(p.name for p in settings.filestore_root.iterdir() if p.name.startswith(SCRATCH))
        == []
    )


def test_restore_sql_and_bare_pg_dump(settings, fake_tenant, tmp_path):
    db = fake_tenant(files=0)
    env = settings.libpq_env(db)
    plain = tmp_path / "x.sql"
    custom = tmp_path / "odoo_own_format.dump"
    subprocess.run(["pg_dump", "--no-owner", "-f", plain], env=env, check=True)
    subprocess.run(["pg_dump", "--no-owner", "-Fc", "-f", custom], env=env, check=True)
    for source in (plain, custom):
        target = unique_name()
        restore_backup(settings, target, source)
        assert db_rows(settings, target, CONTENT) == db_rows(settings, db, CONTENT)


def _databases(settings) -> list[str]:
    return [r[0] for r in db_rows(settings, "postgres", "SELECT datname FROM pg_database")]


def test_database_exists_helper(settings, fake_tenant):
    db = fake_tenant(files=0)
    assert databases.exists(settings, db)
    assert not databases.exists(settings, unique_name())


def test_stale_partial_of_a_dead_writer_is_swept(settings, fake_tenant):
    db = fake_tenant(files=1)
    directory = settings.backup_dir / db
    directory.mkdir(parents=True)
    proc = subprocess.Popen(["true"])  # a pid that has surely exited
    proc.wait()
    stale = backup_names.partial_path(directory / backup_names.backup_name(db, "zip"), proc.pid)
    stale.write_bytes(b"half a backup")
    create_backup(settings, db)
    assert not stale.exists()
    assert partial_files(directory) == []


def test_not_enough_space_is_refused_before_writing(tmp_path):
    from odoo_saas_tools.backups.backup import _check_space
    from odoo_saas_tools.core.errors import SaasError

    with pytest.raises(SaasError, match="not enough free space"):
        _check_space(tmp_path, 10**18)
    _check_space(tmp_path, 1)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand files over")
def test_run_as_root_hands_files_to_the_runtime_user(saas_env, fake_tenant, settings):
    """`docker exec` runs as root; Odoo and the scheduler run as ODOO_SAAS_USER."""
    nobody = pwd.getpwnam("nobody")
    env = {**saas_env, "ODOO_SAAS_USER": "nobody"}
    db = fake_tenant(files=3)
    proc = run_cli(env, "db", "backup", db)
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip().splitlines()[-1])
    for p in (path, path.parent, path.with_name(path.name + ".sha256")):
        assert p.stat().st_uid == nobody.pw_uid
    target = unique_name()
    proc = run_cli(env, "db", "restore", target, str(path))
    assert proc.returncode == 0, proc.stderr
    tree = [settings.filestore(target), *settings.filestore(target).rglob("*")]
    assert len(tree) > 3 and {p.stat().st_uid for p in tree} == {nobody.pw_uid}
