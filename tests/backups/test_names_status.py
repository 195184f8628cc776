"""Backup names, partial files and the status-file contract with the metrics exporter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from odoo_saas_tools.backups import status as backup_status
from odoo_saas_tools.backups.names import (
    backup_name,
    parse_backup_name,
    partial_owner,
    partial_path,
    sweep_partials,
)
from odoo_saas_tools.backups.status import read_statuses
from odoo_saas_tools.core.errors import BusyError, SaasError
from odoo_saas_tools.core.settings import Settings

WHEN = datetime(2026, 11, 26, 17, 18, 0, tzinfo=timezone.utc)


def test_names_round_trip_for_every_format_and_odd_tenant_names():
    for db in ("acme", "a_b_20261126T171800Z", "x.y-z", "odoo_acme"):
        for fmt in ("zip", "dump", "sql.gz"):
            name = backup_name(db, fmt, WHEN)
            parsed = parse_backup_name(name)
            assert parsed is not None and (parsed.database, parsed.timestamp, parsed.ext) == (
                db,
                WHEN,
                fmt,
            )
            assert parsed.name == name
    assert backup_name("acme", "zip", WHEN) == "acme_20261126T171800Z.zip"


def test_other_files_are_not_backups():
    for name in (
        "acme_20261126T171800Z.zip.sha256",
        "acme_20261126T171800Z.zip.offsite",
        ".acme_20261126T171800Z.zip.123.partial",
        "acme_20261126T171800Z.tar",
        "acme_20261332T250000Z.zip",  # not a date
        "acme.zip",
        "_20261126T171800Z.zip",
    ):
        assert parse_backup_name(name) is None, name


def test_partial_names_carry_their_writer(tmp_path):
    final = tmp_path / "acme_20261126T171800Z.zip"
    partial = partial_path(final)
    assert partial.name.startswith(".") and partial_owner(partial.name) == os.getpid()
    assert parse_backup_name(partial.name) is None


def test_sweep_removes_only_partials_of_dead_writers(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        sub = tmp_path / "acme"
        sub.mkdir()
        stale = partial_path(sub / "acme_20261126T171800Z.zip", dead_pid)
        busy = partial_path(sub / "acme_20261126T171900Z.zip", live.pid)
        backup = sub / "acme_20261126T171700Z.zip"
        for p in (stale, busy, backup):
            p.write_bytes(b"x")
        assert sweep_partials(tmp_path) == [stale]
        assert busy.exists() and backup.exists() and not stale.exists()
    finally:
        live.kill()
        live.wait()


def test_status_file_contract_is_what_the_exporter_reads(saas_env):
    settings = Settings.from_env(saas_env)
    backup_status.record(
        settings, "acme", ok=True, offsite="verified", duration=2.5, size=1234, file=None
    )
    backup_status.record(settings, "acme", ok=False, offsite="failed", error="pg_dump exited 1")
    data = json.loads((settings.backup_dir / ".status" / "acme.json").read_text())
    assert data["failures_total"] == 1 and data["last_error"] == "pg_dump exited 1"
    assert data["last_success"] < data["last_failure"] and data["offsite"] == "failed"
    assert [p.name for p in (settings.backup_dir / ".status").iterdir()] == ["acme.json"]
    seen = read_statuses(settings)["acme"]
    assert seen.failures_total == 1 and seen.last_size_bytes == 1234 and seen.offsite == "failed"
    assert seen.last_duration_seconds == 2.5


def test_a_second_backup_run_is_refused_while_one_runs(saas_env):
    from odoo_saas_tools.backups.run import run_lock
    from tests.support.cli import run_cli

    settings = Settings.from_env(saas_env)
    with run_lock(settings):
        proc = run_cli(saas_env, "backup", "run", timeout=60)
    assert proc.returncode == 4
    assert f"another backup run is in progress (pid {os.getpid()})" in proc.stderr


LOCKS = {
    "run": (".run.lock", "odoo_saas_tools.backups.run:run_lock"),
    "restic-maintenance": (
        ".restic-maintenance.lock",
        "odoo_saas_tools.backups.offsite.restic_repo:_maintenance_lock",
    ),
}


@pytest.mark.parametrize("target_exists", [True, False], ids=["existing", "missing"])
@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_a_link_planted_at_a_lock_file_is_never_written_through(tmp_path, lock, target_exists):
    """The runtime user owns BACKUP_DIR and root runs `backup run` / `backup prune` by hand: a
    link planted at a lock file's name must not get root to truncate, write or create the file
    it points to (/etc/shadow, /etc/nologin ...)."""
    import importlib

    name, where = LOCKS[lock]
    module, func = where.split(":")
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir()
    precious = tmp_path / "precious"
    if target_exists:
        precious.write_text("root's own file\n")
    (backup_dir / name).symlink_to(precious)
    settings = Settings.from_env({"BACKUP_DIR": str(backup_dir)})
    lock_of = getattr(importlib.import_module(module), func)
    with pytest.raises(SaasError, match="is not usable"), lock_of(settings):  # one line
        pass
    if target_exists:
        assert precious.read_text() == "root's own file\n"
    else:
        assert not precious.exists()


def test_the_busy_message_shows_a_pid_never_what_the_lock_file_was_made_to_say(tmp_path):
    """Whoever holds the lock (the runtime user's scheduler) writes the lock file: root's busy
    message shows a pid from it, nothing else."""
    from odoo_saas_tools.backups.run import run_lock

    backup_dir = tmp_path / "backups"
    backup_dir.mkdir()
    settings = Settings.from_env({"BACKUP_DIR": str(backup_dir)})
    with run_lock(settings):
        lock = backup_dir / ".run.lock"
        assert lock.read_text() == f"{os.getpid()}\n"
        lock.write_text("\x1b]0;owned\x07 root-only-secret\n")
        with pytest.raises(BusyError) as busy, run_lock(settings):
            pass
    assert str(busy.value) == "another backup run is in progress (pid ?)"
    assert lock.read_text() == ""  # the holder leaves no pid behind
