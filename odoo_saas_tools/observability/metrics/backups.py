"""Backup state as the backup commands leave it: one JSON status file per tenant.

The files are written by backup_status.record (see its contract); this side reads them all at
once and checks every value's type. A missing or garbled file is skipped with a log line: the
exporter never dies of a hand-edited or damaged file.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass

from odoo_saas_tools.backups.scheduler import next_fire
from odoo_saas_tools.backups.status import status_dir
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackupStatus:
    database: str
    last_success: float | None
    last_failure: float | None
    last_duration_seconds: float | None
    last_size_bytes: int | None
    failures_total: int
    offsite: str
    last_added_bytes: int | None = None  # restic engine only
    repository_size_bytes: int | None = None  # restic engine only


def _number(data: dict, key: str, kind: type) -> float | int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} is not a number")
    return kind(value)


def parse_status(data: object) -> BackupStatus:
    """Validate one decoded status file; ValueError says which key is wrong."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    database = data.get("database")
    if not isinstance(database, str) or not database:
        raise ValueError("database is missing")
    failures = _number(data, "failures_total", int) or 0
    offsite = data.get("offsite")
    return BackupStatus(
        database=database,
        last_success=_number(data, "last_success", float),
        last_failure=_number(data, "last_failure", float),
        last_duration_seconds=_number(data, "last_duration_seconds", float),
        last_size_bytes=_number(data, "last_size_bytes", int),
        failures_total=int(failures),
        offsite=offsite if isinstance(offsite, str) else "disabled",
        last_added_bytes=_number(data, "last_added_bytes", int),
        repository_size_bytes=_number(data, "repository_size_bytes", int),
    )


def read_statuses(settings: Settings) -> dict[str, BackupStatus]:
    """Every readable status file, by database; bad files are logged and skipped."""
    out: dict[str, BackupStatus] = {}
    directory = status_dir(settings)
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return out
    except OSError as exc:
        log.warning("cannot read backup status directory %s: %s", directory, exc.strerror)
        return out
    for entry in entries:
        if not entry.name.endswith(".json") or entry.name.startswith("."):
            continue  # temporary files of an atomic write, and the like
        try:
            with open(entry.path, encoding="utf-8") as fh:
                status = parse_status(json.load(fh))
        except (OSError, ValueError) as exc:
            log.warning("skipping backup status file %s: %s", entry.path, exc)
            continue
        out[status.database] = status
    return out


@dataclass(frozen=True)
class DiskUsage:
    total_bytes: int
    free_bytes: int


def backup_disk(settings: Settings) -> DiskUsage | None:
    """Space on the file system holding BACKUP_DIR, None when it does not exist."""
    try:
        usage = shutil.disk_usage(settings.backup_dir)
    except OSError:
        return None
    return DiskUsage(usage.total, usage.free)


WEEK_AND_A_DAY = 8 * 86400


def schedule_period_seconds(settings: Settings, max_samples: int = 2500) -> float | None:
    """Longest gap between two scheduled backups (BACKUP_SCHEDULE in BACKUP_TZ).

    Alerts compare a backup's age with this: "older than two periods" stays right for schedules
    such as `0 2 * * 1-5` whose gaps differ (the weekend gap is the one that counts).
    Looks at least eight days ahead so weekday-only schedules show their weekend gap.
    None when scheduled backups are off.
    """
    if not settings.auto_backup:
        return None
    expr, tz = settings.backup_schedule, settings.backup_tz
    times = [next_fire(expr, tz, time.time())]
    while len(times) < 3 or (times[-1] - times[0] < WEEK_AND_A_DAY and len(times) < max_samples):
        times.append(next_fire(expr, tz, times[-1]))
    return max(b - a for a, b in itertools.pairwise(times))
