"""Issue 26, item 9 (restore and sweep parts): what a killed or failed restore, drop or clone
leaves behind, and one `db sweep` putting it right."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from odoo_saas_tools.backups.backup import create_backup
from odoo_saas_tools.backups.names import backup_name
from odoo_saas_tools.backups.restore import RestoreOptions, restore_backup
from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.postgres import databases, loader
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.tenants import hidden
from odoo_saas_tools.tenants.filestore import remove as filestore_remove
from odoo_saas_tools.tenants.locks import tenant_lock
from tests.backups.restore.conftest import FAKE_SCHEMA, db_rows, tenant_files, unique_name
from tests.support.cli import run_cli
from tests.support.wait import wait_until


def _hidden(settings) -> list[str]:
    """Hidden databases left behind: odoo-saas's own catalog is not one (any operation that
    records a tenant creates it)."""
    rows = db_rows(settings, "postgres", "SELECT datname FROM pg_database")
    return sorted(
        n for (n,) in rows if n.startswith(hidden.RESERVED_PREFIX) and n != hidden.CATALOG
    )


def _scratch_roles(settings) -> list[str]:
    """The roles of the scratch databases a killed restore loaded as (each database's own),
    and loading roles of earlier versions."""
    rows = db_rows(settings, "postgres", "SELECT rolname, shobj_description(oid, 'pg_authid') "
                   "FROM pg_roles")  # fmt: skip
    return sorted(
        role
        for role, label in rows
        if role.startswith(loader.ROLE_PREFIX) or hidden.RESTORE_PREFIX in (label or "")
    )


def _partials(settings) -> list[str]:
    return sorted(p.name for p in settings.backup_dir.rglob("*.partial"))


def test_restore_as_a_copy_of_a_database_without_parameters_is_one_line(
    settings, saas_env, fake_tenant, tmp_path
):
    """The copy's new identity goes into ir_config_parameter: without it, a traceback."""
    src = fake_tenant(files=1)
    with connect(settings, src) as conn, conn.cursor() as cr:
        cr.execute("DROP TABLE ir_config_parameter")
    backup = create_backup(settings, src, tmp_path / "b").path
    name = unique_name()
    proc = run_cli(saas_env, "db", "restore", name, str(backup), "--copy")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "ir_config_parameter" in proc.stderr
    assert not databases.exists(settings, name) and _hidden(settings) == []


def _killed_while_writing(saas_env, folder: str, *argv: str) -> subprocess.CompletedProcess:
    """Run the CLI and SIGKILL it once the last backup it writes in $BACKUP_DIR/<folder> is
    complete under its partial name (just before its checksum and rename)."""
    script = f"""
import os, sys
from odoo_saas_tools.backups import names
real = names.write_checksum
def write_checksum(final, sha):
    if final.parent.name == {folder!r}:
        os.kill(os.getpid(), 9)
    return real(final, sha)
names.write_checksum = write_checksum
from odoo_saas_tools.cli import main
sys.exit(main({list(argv)!r}))
"""
    return subprocess.run(
        [sys.executable, "-c", script], env=saas_env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("operation", ["restore", "drop"])
def test_partial_last_backups_of_a_killed_restore_or_drop_go_with_one_sweep(
    settings, saas_env, fake_tenant, tmp_path, operation
):
    """A killed `restore --force` or `drop` left its last backup's .partial in replaced/ or
    dropped/ until the next backup run; `db sweep` left it."""
    db = fake_tenant(files=2)
    before = tenant_files(settings, db)
    if operation == "restore":
        newer = str(create_backup(settings, fake_tenant(files=1), tmp_path / "n").path)
        argv = ("db", "restore", db, newer, "--force", "--from-other-tenant")
        proc = _killed_while_writing(saas_env, "replaced", *argv)
    else:
        proc = _killed_while_writing(saas_env, "dropped", "db", "drop", db)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert _partials(settings), "the kill came before the last backup was written"
    proc = run_cli(saas_env, "db", "sweep", "--json")
    assert proc.returncode == 0, proc.stderr
    swept = json.loads(proc.stdout)
    assert [o for o in swept if o["kind"] == "partial" and o["action"] == "removed"], swept
    assert _partials(settings) == []
    assert tenant_files(settings, db) == before  # the tenant as it was, online
    assert _hidden(settings) == [] and loader.leftover_roles(settings) == []


def _stale_partial(settings, tenant: str, folder: str) -> str:
    """A partial file named as a writer of another PID namespace (another pod) names it: its
    pid means nothing here."""
    pid = 4_000_000  # above any pid_max: never a live process on this machine
    directory = settings.backup_dir / folder
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f".{backup_name(tenant, 'zip')}.abcd1234.{pid}.partial"
    path.write_bytes(b"PK")
    return path.name


def test_a_partial_whose_tenant_is_locked_elsewhere_is_left_alone(settings, saas_env):
    """A backup running in another container holds its tenant's lock (in PostgreSQL, seen by
    everyone); its pid means nothing here. The sweep removes its partial only once the lock is
    free."""
    tenant = unique_name()
    name = _stale_partial(settings, tenant, "replaced")
    with tenant_lock(settings, tenant, operation="backup"):
        proc = run_cli(saas_env, "db", "sweep", "--json")
        assert proc.returncode == 0, proc.stderr
        (found,) = [o for o in json.loads(proc.stdout) if o["kind"] == "partial"]
        assert found["busy"] and found["tenant"] == tenant and found["name"].endswith(name)
        assert _partials(settings) == [name]
    assert run_cli(saas_env, "db", "sweep", "--dry-run").returncode == 0
    assert _partials(settings) == [name]
    run_cli(saas_env, "db", "sweep", check=True)
    assert _partials(settings) == []


def _killed_mid_load(settings, saas_env, tmp_path, name: str) -> None:
    """A restore of name SIGKILLed while PostgreSQL runs its SQL: scratch database and its
    role are left."""
    sql = tmp_path / "slow.sql"
    sql.write_text(FAKE_SCHEMA + "SELECT pg_sleep(60);\n")
    argv = [sys.executable, "-m", "odoo_saas_tools", "db", "restore", name, str(sql)]
    proc = subprocess.Popen(argv, env=saas_env, stderr=subprocess.DEVNULL)
    try:
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' "
            "AND pid <> pg_backend_pid()"
        )

        def loading() -> bool:
            assert proc.poll() is None, "the load never ran"
            return db_rows(settings, "postgres", query) != [(0,)]

        wait_until(loading, 30, "the load's SQL to run")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert _scratch_roles(settings) and _hidden(settings)


def test_a_killed_restores_loading_role_goes_with_one_sweep_while_its_tenant_is_busy(
    settings, saas_env, tmp_path
):
    """The scratch database of a killed restore counted as in use while anything held its
    tenant's lock (the restore retried, a backup): the sweep left it, and with it the loading
    role owning it ("left alone: its restore is still running")."""
    name = unique_name()
    _killed_mid_load(settings, saas_env, tmp_path, name)
    with tenant_lock(settings, name, operation="restore"):  # e.g. the restore, retried
        proc = run_cli(saas_env, "db", "sweep", "--json")
    assert proc.returncode == 0, proc.stderr
    assert _scratch_roles(settings) == [], proc.stdout
    assert _hidden(settings) == []


def test_a_sweep_error_on_one_orphan_does_not_keep_the_others(settings, saas_env, tmp_path):
    """An orphan the sweep cannot remove stopped the sweep with an error before the loading
    roles: now it is reported (exit 1) and the rest still goes."""
    name = unique_name()
    _killed_mid_load(settings, saas_env, tmp_path, name)
    stuck = settings.filestore(hidden.RESTORE_PREFIX + "0123456789ab")
    stuck.mkdir(parents=True)
    script = f"""
import sys
from odoo_saas_tools.tenants import filestore
real = filestore.remove
def remove(path):
    if path.name == {stuck.name!r}:
        raise PermissionError(13, "Permission denied", str(path))
    return real(path)
filestore.remove = remove
from odoo_saas_tools.cli import main
sys.exit(main(["db", "sweep", "--json"]))
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], env=saas_env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    (failed,) = [o for o in json.loads(proc.stdout) if o["name"] == stuck.name]
    assert failed["action"] == f"failed: {stuck}: Permission denied", failed
    assert _scratch_roles(settings) == [], proc.stdout
    assert _hidden(settings) == []
    filestore_remove(stuck)


def test_a_fifo_named_like_a_scratch_filestore_does_not_hang_the_sweep(settings, saas_env):
    """Removing it as a tree opened it, which waits for a writer: the sweep (and pre-flight at
    every start, as root) hung. The runtime user can make one in the filestore root."""
    fifo = settings.filestore(hidden.RESTORE_PREFIX + "fifo01234567")
    fifo.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(fifo)
    proc = run_cli(saas_env, "db", "sweep", "--json", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert not os.path.lexists(fifo)


def test_restore_without_ir_config_parameter_and_no_copy_still_restores(
    settings, fake_tenant, tmp_path
):
    """Only a copy needs the parameters (its new identity): a roll-back does not."""
    src = fake_tenant(files=1)
    with connect(settings, src) as conn, conn.cursor() as cr:
        cr.execute("DROP TABLE ir_config_parameter")
    backup = create_backup(settings, src, tmp_path / "b").path
    name = unique_name()
    restore_backup(settings, name, backup)
    assert databases.exists(settings, name)
    with pytest.raises(SaasError, match="ir_config_parameter"):
        restore_backup(settings, unique_name(), backup, RestoreOptions(copy=True))
    databases.drop(settings, name)
