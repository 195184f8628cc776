"""The backup-scheduler program: run `backup run` on BACKUP_SCHEDULE (cron, in BACKUP_TZ).

Each run is a child process in its own session (`odoo-saas backup run --scheduled`), so a stop
can terminate it with everything it started (pg_dump, ...) and a crash of a run never takes the
scheduler down. Runs never overlap: the loop waits for a run before computing the next fire
time (fire times that passed meanwhile are skipped, and logged), and `backup run` itself holds a
lock on the backup directory. The scheduled time of the last completed run is kept in
`$BACKUP_DIR/.scheduler.json`; when a fire time passed while the scheduler was down, it runs
once at start. On SIGTERM a running backup is terminated, its partial files are removed, and the
program exits; the interrupted run is made up at the next start.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import zoneinfo
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from croniter import croniter

from odoo_saas_tools.backups.names import sweep_partials
from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.files import atomic_write_json
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)

TERM_GRACE_SECONDS = 20.0  # below supervisord's stopwaitsecs (30) for backup-scheduler
MAX_SLEEP_SECONDS = 30.0  # re-check the clock at least this often (suspend, clock changes)

Runner = Callable[[threading.Event], int]


def state_path(settings: Settings) -> Path:
    return settings.backup_dir / ".scheduler.json"


def read_state(settings: Settings) -> dict[str, Any]:
    try:
        data = json.loads(state_path(settings).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def prev_fire(expr: str, tz: str, at: float) -> float:
    """The last scheduled time at or before `at` (unix seconds)."""
    # croniter's get_prev is strict; a second later lets a fire exactly at `at` count.
    base = datetime.fromtimestamp(at + 1, zoneinfo.ZoneInfo(tz))
    return croniter(expr, base).get_prev(float)


def next_fire(expr: str, tz: str, after: float) -> float:
    """The first scheduled time strictly after `after`, read in time zone tz."""
    base = datetime.fromtimestamp(after, zoneinfo.ZoneInfo(tz))
    return croniter(expr, base).get_next(float)


def subprocess_runner(stop: threading.Event) -> int:
    """Run `odoo-saas backup run --scheduled` as a child session; terminate it on stop."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "odoo_saas_tools", "backup", "run", "--scheduled"],
        start_new_session=True,
    )
    while True:
        try:
            return proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            if stop.is_set():
                break
    log.warning("stopping: terminating the running backup (pid %d)", proc.pid)
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=TERM_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        log.error("backup run did not stop within %.0f s: killing it", TERM_GRACE_SECONDS)
        _signal_group(proc.pid, signal.SIGKILL)
        return proc.wait()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


class Scheduler:
    """The loop; clock, waiting and the runner are injectable so tests need not wait minutes."""

    def __init__(
        self,
        settings: Settings,
        *,
        runner: Runner = subprocess_runner,
        clock: Callable[[], float] = time.time,
        stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.runner = runner
        self.clock = clock
        self.stop = stop or threading.Event()
        self.expr = settings.backup_schedule
        self.tz = settings.backup_tz
        self.runs = 0

    def save(self, **values: Any) -> None:
        state = read_state(self.settings)
        state.update(values)
        state["schedule"] = self.expr
        state["tz"] = self.tz
        atomic_write_json(state_path(self.settings), state)

    def start_up(self) -> bool:
        """Sweep stale partial files; return whether a run was missed while we were down."""
        try:
            self.settings.backup_dir.mkdir(parents=True, exist_ok=True)
            self.save()  # proves the directory is writable before the first fire time
        except OSError as exc:
            raise SaasError(
                f"BACKUP_DIR {self.settings.backup_dir} is not usable: {exc.strerror}"
            ) from exc
        for path in sweep_partials(self.settings.backup_dir):
            log.warning("removed %s, left by an interrupted backup", path)
        now = self.clock()
        last = read_state(self.settings).get("last_fire")
        previous = prev_fire(self.expr, self.tz, now)
        if not isinstance(last, (int, float)):
            log.info("first start: next backups on schedule %r (%s)", self.expr, self.tz)
            self.save(last_fire=previous)
            return False
        if last < previous:
            log.warning(
                "a scheduled backup was missed while the scheduler was down (last run %s, "
                "due %s): running one now",
                _fmt(last),
                _fmt(previous),
            )
            return True
        return False

    def run_once(self, fire: float) -> int:
        started = self.clock()
        self.save(last_started=started)
        log.info("scheduled backup run (due %s) starting", _fmt(fire))
        rc = self.runner(self.stop)
        self.runs += 1
        if self.stop.is_set():
            log.warning("backup run interrupted by stop; it will be made up at next start")
            for path in sweep_partials(self.settings.backup_dir):
                log.info("removed partial file %s", path)
            return rc
        self.save(last_fire=fire, last_finished=self.clock(), last_exit=rc)
        level = logging.INFO if rc == 0 else logging.ERROR
        log.log(level, "scheduled backup run finished with exit code %d", rc)
        return rc

    def wait_until(self, when: float) -> bool:
        """Sleep until `when` by the clock; False if stopped first."""
        while not self.stop.is_set():
            remaining = when - self.clock()
            if remaining <= 0:
                return True
            self.stop.wait(min(remaining, MAX_SLEEP_SECONDS))
        return False

    def loop(self, max_runs: int | None = None) -> None:
        if self.start_up():
            self.run_once(prev_fire(self.expr, self.tz, self.clock()))
        while not self.stop.is_set() and (max_runs is None or self.runs < max_runs):
            fire = next_fire(self.expr, self.tz, self.clock())
            log.info("next backup run at %s", _fmt(fire, self.tz))
            if not self.wait_until(fire):
                break
            self.run_once(fire)
            latest = prev_fire(self.expr, self.tz, self.clock())
            if latest > fire and not self.stop.is_set():
                log.warning("the run outlasted its period: runs due until %s skipped", _fmt(latest))


def _fmt(ts: float, tz: str = "UTC") -> str:
    zone = timezone.utc if tz == "UTC" else zoneinfo.ZoneInfo(tz)
    return datetime.fromtimestamp(ts, zone).isoformat(timespec="seconds")
