"""Per-tenant backup status files: one schema, written here and read by the metrics exporter.

`$BACKUP_DIR/.status/<database>.json`, written atomically (temp file + rename), holds the fields
of BackupStatus: database, last_success, last_failure (unix seconds or null), last_error,
last_duration_seconds, last_size_bytes, failures_total (cumulative), last_file, offsite
("verified"|"failed"|"disabled"); with BACKUP_OFFSITE=restic also last_added_bytes and
repository_size_bytes. Reading checks every value's type: a missing or garbled file is skipped
with a log line, so the exporter never dies of a hand-edited or damaged file.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from odoo_saas_tools.core.files import atomic_write_json, path_component
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)

OFFSITE_STATES = ("verified", "failed", "disabled")
_lock = threading.Lock()


@dataclass(frozen=True)
class BackupStatus:
    database: str
    last_success: float | None = None
    last_failure: float | None = None
    last_duration_seconds: float | None = None
    last_size_bytes: int | None = None
    failures_total: int = 0
    offsite: str = "disabled"
    last_added_bytes: int | None = None  # deduplicating engines (restic) only
    repository_size_bytes: int | None = None  # deduplicating engines (restic) only
    last_error: str | None = None
    last_file: str | None = None


def status_dir(settings: Settings) -> Path:
    return settings.backup_dir / ".status"


def status_path(settings: Settings, database: str) -> Path:
    return status_dir(settings) / f"{path_component(database)}.json"


def _number(data: dict, key: str, kind: type) -> float | int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} is not a number")
    return kind(value)


def _text(data: dict, key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def parse_status(data: object) -> BackupStatus:
    """Validate one decoded status file; ValueError says which key is wrong."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    database = data.get("database")
    if not isinstance(database, str) or not database:
        raise ValueError("database is missing")
    return BackupStatus(
        database=database,
        last_success=_number(data, "last_success", float),
        last_failure=_number(data, "last_failure", float),
        last_duration_seconds=_number(data, "last_duration_seconds", float),
        last_size_bytes=_number(data, "last_size_bytes", int),
        failures_total=int(_number(data, "failures_total", int) or 0),
        offsite=_text(data, "offsite") or "disabled",
        last_added_bytes=_number(data, "last_added_bytes", int),
        repository_size_bytes=_number(data, "repository_size_bytes", int),
        last_error=_text(data, "last_error"),
        last_file=_text(data, "last_file"),
    )


def read_status(settings: Settings, database: str) -> BackupStatus:
    """The tenant's status, or an empty one (never raises for a missing or damaged file)."""
    try:
        return parse_status(json.loads(status_path(settings, database).read_text()))
    except (OSError, ValueError):
        return BackupStatus(database)


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


def record(
    settings: Settings,
    database: str,
    *,
    ok: bool,
    offsite: str,
    error: str | None = None,
    duration: float | None = None,
    size: int | None = None,
    file: Path | None = None,
    when: float | None = None,
    added: int | None = None,
    repository_size: int | None = None,
) -> BackupStatus:
    """Update the tenant's status after one backup attempt and return it."""
    assert offsite in OFFSITE_STATES
    when = time.time() if when is None else when
    with _lock:
        old = read_status(settings, database)
        changes: dict[str, object] = {"offsite": offsite}
        if ok:
            changes.update(last_success=when, last_error=None)
        else:
            changes.update(
                last_failure=when,
                last_error=error or "failed",
                failures_total=old.failures_total + 1,
            )
        if duration is not None:
            changes["last_duration_seconds"] = round(duration, 3)
        if size is not None:
            changes["last_size_bytes"] = int(size)
        if file is not None:
            changes["last_file"] = str(file)
        if added is not None:
            changes["last_added_bytes"] = int(added)
        if repository_size is not None:
            changes["repository_size_bytes"] = int(repository_size)
        new = dataclasses.replace(old, **changes)
        atomic_write_json(status_path(settings, database), dataclasses.asdict(new))
    return new
