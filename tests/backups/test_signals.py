"""SIGTERM in the middle of a backup, and the scheduler under a real supervisord.

A tenant's backup is held mid-way deterministically: the test locks one of its tables, so
pg_dump waits while the archive is already being written under its partial name.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psutil
import psycopg2

from odoo_saas_tools.backups.names import parse_backup_name
from odoo_saas_tools.backups.scheduler import read_state, state_path
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.runtime.render import render_all
from tests.backups.conftest import make_tenant
from tests.support.wait import wait_until

KEEP_SECTIONS = ("unix_http_server", "supervisord", "rpcinterface:supervisor", "supervisorctl")


@contextlib.contextmanager
def table_locked(settings: Settings, db: str) -> Iterator[None]:
    conn = psycopg2.connect(**settings.connect_kwargs(db))
    try:
        with conn.cursor() as cr:
            cr.execute("LOCK TABLE res_partner IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        conn.rollback()
        conn.close()


def partials(backup_dir: Path) -> list[Path]:
    return sorted(backup_dir.rglob("*.partial"))


def finished(backup_dir: Path, db: str) -> list[Path]:
    d = backup_dir / db
    return sorted(p for p in d.iterdir() if parse_backup_name(p.name)) if d.is_dir() else []


def dumps_running(db: str) -> list[psutil.Process]:
    out = []
    for proc in psutil.process_iter(["name", "environ"]):
        with contextlib.suppress(psutil.Error):
            if (
                proc.info["name"] == "pg_dump"
                and (proc.info["environ"] or {}).get("PGDATABASE") == db
            ):
                out.append(proc)
    return out


def test_sigterm_mid_backup_leaves_nothing_half_written(tenant_env):
    settings = Settings.from_env(tenant_env)
    db = make_tenant(settings, f"{tenant_env['BK_TAG']}_acme", files=20, file_size=64 * 1024)
    with table_locked(settings, db):
        proc = subprocess.Popen(
            [sys.executable, "-m", "odoo_saas_tools", "backup", "run"],
            env=tenant_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(lambda: partials(settings.backup_dir), 30, "the backup to start writing")
            # the partial file is created just before pg_dump is started (CI saw the gap)
            wait_until(lambda: dumps_running(db), 10, "pg_dump to run")
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, err
    assert "INTERRUPTED" in out
    assert partials(settings.backup_dir) == []
    assert finished(settings.backup_dir, db) == []
    assert not dumps_running(db)
    # not recorded as the tenant's failure: it was stopped, it did not fail
    assert not (settings.backup_dir / ".status" / f"{db}.json").exists()


def supervisord_conf(settings: Settings) -> str:
    """The real rendered supervisord.conf, reduced to supervisord itself + backup-scheduler."""
    render_all(settings)
    text = settings.supervisord_conf.read_text()
    sections: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("["):
            sections.append([])
        if sections:
            sections[-1].append(line)
    keep = [s for s in sections if s[0].strip("[]") in (*KEEP_SECTIONS, "program:backup-scheduler")]
    assert any(s[0] == "[program:backup-scheduler]" for s in keep)
    return "\n".join("\n".join(s) for s in keep) + "\n"


def next_run_announced(log_path: Path, since: int) -> float | None:
    """The fire time the scheduler's "next backup run at ..." line names, past byte since."""
    with open(log_path, "rb") as fh:
        fh.seek(since)
        found = re.findall(rb"next backup run at (\S+)", fh.read())
    return datetime.fromisoformat(found[-1].decode()).timestamp() if found else None


def test_supervisord_scheduler_stops_cleanly_then_makes_the_run_up(tenant_env):
    env = {
        **tenant_env,
        "ODOO_AUTO_BACKUP": "true",
        "BACKUP_SCHEDULE": "* * * * *",
        "BACKUP_FORMAT": "sql.gz",
        "ODOO_METRICS_ENABLED": "false",
    }
    settings = Settings.from_env(env)
    db = make_tenant(settings, f"{env['BK_TAG']}_acme")
    conf = settings.runtime_dir / "backup-supervisord.conf"
    conf.write_text(supervisord_conf(settings))
    conf.chmod(0o600)
    bindir = Path(sys.executable).parent
    ctl = [str(bindir / "supervisorctl"), "-c", str(conf)]
    # Pretend the scheduler was down for an hour: it must make the run up at start.
    settings.backup_dir.mkdir(parents=True, exist_ok=True)
    missed = time.time() - 3600
    state_path(settings).write_text(json.dumps({"last_fire": missed}))

    log_path = settings.runtime_dir / "supervisord.out"
    log = open(log_path, "w")  # noqa: SIM115
    sup = subprocess.Popen(
        [str(bindir / "supervisord"), "-c", str(conf)], env=env, stdout=log, stderr=log
    )
    try:
        with table_locked(settings, db):
            wait_until(lambda: partials(settings.backup_dir), 40, "the made-up run to start")
            started = time.monotonic()
            stop = subprocess.run(
                [*ctl, "stop", "backup-scheduler"], capture_output=True, text=True, timeout=60
            )
            assert "stopped" in stop.stdout, stop.stdout + stop.stderr
            assert time.monotonic() - started < 25  # within stopwaitsecs, no SIGKILL needed
            assert partials(settings.backup_dir) == []
            assert finished(settings.backup_dir, db) == []
            assert not dumps_running(db)
            state = json.loads(state_path(settings).read_text())
            assert state["last_fire"] == missed  # still owed: made up at the next start

        # Started again (lock released): the owed run happens at once, and the loop then waits
        # for the next minute. That it fires every minute on the minute is the loop's, tested
        # with an injected clock (tests/unit/test_scheduler.py): no test waits for a real one.
        logged = log_path.stat().st_size
        subprocess.run([*ctl, "start", "backup-scheduler"], check=True, capture_output=True)
        fire_after = wait_until(
            lambda: (f := read_state(settings).get("last_fire")) != missed and f, 30, "made-up run"
        )
        assert fire_after > missed
        state = read_state(settings)
        assert state["last_exit"] == 0
        assert len(finished(settings.backup_dir, db)) == 1
        st = json.loads((settings.backup_dir / ".status" / f"{db}.json").read_text())
        assert st["last_error"] is None and st["offsite"] == "verified"
        announced = wait_until(
            lambda: next_run_announced(log_path, logged), 30, "the next fire time"
        )
        assert announced % 60 == 0 and fire_after < announced <= time.time() + 60
        status = subprocess.run([*ctl, "status"], capture_output=True, text=True)
        assert "backup-scheduler" in status.stdout and "RUNNING" in status.stdout
    finally:
        subprocess.run([*ctl, "shutdown"], capture_output=True, timeout=60)
        try:
            sup.wait(30)
        except subprocess.TimeoutExpired:
            sup.kill()
            sup.wait()
        log.close()
    assert partials(settings.backup_dir) == []
