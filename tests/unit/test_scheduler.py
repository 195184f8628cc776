"""Unit tier: the backup scheduler's loop with an injected clock and runner (backups/scheduler.py):
minutes and days pass instantly, nothing waits for a real cron minute, no service runs. The
program itself (the CLI, an unusable BACKUP_DIR): tests/backups/test_scheduler.py."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from odoo_saas_tools.backups.scheduler import Scheduler, next_fire, prev_fire, state_path
from odoo_saas_tools.core.settings import Settings

T0 = datetime(2026, 11, 26, 17, 0, 30, tzinfo=timezone.utc).timestamp()


class FakeTime:
    """A clock that jumps forward whenever the loop waits; runs take `run_seconds`."""

    def __init__(self, start: float, run_seconds: float = 1.0) -> None:
        self.now = start
        self.run_seconds = run_seconds
        self.runs: list[float] = []
        self.active = 0
        self.max_active = 0

    def clock(self) -> float:
        return self.now

    def runner(self, stop: threading.Event) -> int:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self.runs.append(self.now)
        self.now += self.run_seconds
        self.active -= 1
        return 0


class FakeStop(threading.Event):
    """wait() advances the fake clock instead of sleeping."""

    def __init__(self, fake: FakeTime) -> None:
        super().__init__()
        self.fake = fake

    def wait(self, timeout: float | None = None) -> bool:
        self.fake.now += timeout or 0
        return self.is_set()


def settings_for(tmp_path: Path, schedule: str, tz: str = "UTC") -> Settings:
    return Settings.from_env(
        {"BACKUP_DIR": str(tmp_path / "backups"), "BACKUP_SCHEDULE": schedule, "BACKUP_TZ": tz}
    )


def scheduler(settings: Settings, fake: FakeTime) -> Scheduler:
    return Scheduler(settings, runner=fake.runner, clock=fake.clock, stop=FakeStop(fake))


def test_every_minute_fires_once_per_minute_on_the_minute(tmp_path):
    settings = settings_for(tmp_path, "* * * * *")
    fake = FakeTime(T0)
    scheduler(settings, fake).loop(max_runs=3)
    assert fake.runs == [T0 + 30, T0 + 90, T0 + 150]  # 17:01:00, 17:02:00, 17:03:00
    state = json.loads(state_path(settings).read_text())
    assert state["last_fire"] == T0 + 150 and state["last_exit"] == 0


def test_first_start_does_not_run_but_a_missed_run_is_made_up_once(tmp_path):
    settings = settings_for(tmp_path, "0 */6 * * *")
    fake = FakeTime(T0)  # 17:00:30; due times 12:00, 18:00
    sched = scheduler(settings, fake)
    assert sched.start_up() is False  # first start: baseline only
    assert json.loads(state_path(settings).read_text())["last_fire"] == T0 - 5 * 3600 - 30
    assert sched.start_up() is False  # nothing missed since
    fake.now += 2 * 24 * 3600  # down for two days: eight fire times missed
    sched = scheduler(settings, fake)
    sched.loop(max_runs=2)
    # once at start (not eight times), then on schedule
    assert fake.runs[0] == T0 + 2 * 24 * 3600
    assert fake.runs[1] == T0 + 2 * 24 * 3600 + 3600 - 30  # next 18:00


def test_runs_never_overlap_and_a_long_run_skips_missed_fire_times(tmp_path):
    settings = settings_for(tmp_path, "* * * * *")
    fake = FakeTime(T0, run_seconds=150)  # each run lasts 2.5 periods
    scheduler(settings, fake).loop(max_runs=3)
    assert fake.max_active == 1
    assert fake.runs == [T0 + 30, T0 + 210, T0 + 390]  # 17:01, 17:04, 17:07


def test_schedule_in_time_zone(tmp_path):
    settings = settings_for(tmp_path, "30 2 * * *", "Europe/Brussels")
    fire = next_fire(settings.backup_schedule, settings.backup_tz, T0)
    assert datetime.fromtimestamp(fire, timezone.utc) == datetime(
        2026, 11, 27, 1, 30, tzinfo=timezone.utc
    )
    assert prev_fire("* * * * *", "UTC", T0 + 30) == T0 + 30  # a fire exactly now counts


def test_stop_while_waiting_returns_promptly(tmp_path):
    settings = settings_for(tmp_path, "0 0 1 1 *")
    stop = threading.Event()
    sched = Scheduler(settings, runner=lambda s: pytest.fail("must not run"), stop=stop)
    thread = threading.Thread(target=sched.loop)
    thread.start()
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
