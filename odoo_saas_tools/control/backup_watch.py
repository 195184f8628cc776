"""Scheduled backups told as webhooks: `backup run` (supervisord's loop, the chart's CronJob)
holds no catalog role, so it cannot write the outbox; it writes each tenant's status file
(backups.status), and the lifecycle turn compares those with what it told last (the catalog's
`backup_seen`) and emits `backup.succeeded` / `backup.failed` for what is new, in the
transaction that records it as told (so several loops tell each once).

A tenant seen for the first time is recorded without an event: the watch tells what happens
from then on, not a pool's past. The API's own backup jobs emit their events when they end
(control.operations.events_of) and write no status file, so nothing is told twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from odoo_saas_tools.backups import status as backup_status
from odoo_saas_tools.catalog import backup_seen, store
from odoo_saas_tools.control import events
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants.identity import tenant_label


@dataclass(frozen=True)
class Told:
    type: str
    database: str
    at: float  # the status file's time of that success or failure


def decide(
    statuses: dict[str, backup_status.BackupStatus], seen: dict[str, backup_seen.Seen]
) -> tuple[list[Told], list[backup_seen.Seen]]:
    """(the events to emit, the rows to record): pure, on the status files' facts."""
    told: list[Told] = []
    rows: list[backup_seen.Seen] = []
    for db, status in sorted(statuses.items()):
        before = seen.get(db)
        now = backup_seen.Seen(db, status.last_success, status.last_failure)
        if before == now:
            continue
        rows.append(now)
        if before is None:
            continue  # first sight
        if _newer(status.last_success, before.last_success):
            told.append(Told(events.BACKUP_SUCCEEDED, db, status.last_success or 0.0))
        if _newer(status.last_failure, before.last_failure):
            told.append(Told(events.BACKUP_FAILED, db, status.last_failure or 0.0))
    return told, rows


def _newer(value: float | None, before: float | None) -> bool:
    return value is not None and (before is None or value > before)


def payload(settings: Settings, told: Told, status: backup_status.BackupStatus) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": tenant_label(settings, told.database),
        "source": "scheduled",
        "at": dt.datetime.fromtimestamp(told.at, dt.timezone.utc),
    }
    if told.type == events.BACKUP_FAILED:
        return {**base, "error": status.last_error}
    out = {
        **base,
        "path": status.last_file,
        "size_bytes": status.last_size_bytes,
        "duration_seconds": status.last_duration_seconds,
    }
    if not _newer(status.last_failure, status.last_success):
        out["offsite"] = status.offsite  # the file keeps the last attempt's: this one's
    return out


def watch(settings: Settings) -> int:
    """One look: the events emitted."""
    statuses = backup_status.read_statuses(settings)
    with store.session(settings) as cr:
        told, rows = decide(statuses, backup_seen.all_seen(cr))
        for item in told:
            events.emit(
                cr, item.type, item.database, payload(settings, item, statuses[item.database])
            )
        if rows:
            backup_seen.put(cr, rows)
    return len(told)
