"""Backup state for the exporter: the status files (backups.status, one schema for writer and
reader), the backup disk, and the schedule's longest gap."""

from __future__ import annotations

import itertools
import logging
import shutil
import time
from dataclasses import dataclass

from odoo_saas_tools.backups.scheduler import next_fire
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)


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
