"""Per-tenant backup status files, read by the metrics exporter (odoo_backup_* metrics).

`$BACKUP_DIR/.status/<database>.json`, written atomically (temp file + rename), keys:
database, last_success, last_failure (unix seconds or null), last_error, last_duration_seconds,
last_size_bytes, failures_total (cumulative), last_file, offsite ("verified"|"failed"|"disabled");
with BACKUP_OFFSITE=restic also last_added_bytes and repository_size_bytes.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from odoo_saas_tools.core.files import atomic_write_json, path_component
from odoo_saas_tools.core.settings import Settings

OFFSITE_STATES = ("verified", "failed", "disabled")
# Written only by the restic engine (BACKUP_OFFSITE=restic): bytes the last run added to the
# repository, and the repository's size after it.
RESTIC_KEYS = ("last_added_bytes", "repository_size_bytes")
_lock = threading.Lock()


def status_dir(settings: Settings) -> Path:
    return settings.backup_dir / ".status"


def status_path(settings: Settings, database: str) -> Path:
    return status_dir(settings) / f"{path_component(database)}.json"


def empty(database: str) -> dict[str, Any]:
    return {
        "database": database,
        "last_success": None,
        "last_failure": None,
        "last_error": None,
        "last_duration_seconds": None,
        "last_size_bytes": None,
        "failures_total": 0,
        "last_file": None,
        "offsite": "disabled",
    }


def read_status(settings: Settings, database: str) -> dict[str, Any]:
    """The tenant's status, or an empty one (never raises for a missing or damaged file)."""
    data = empty(database)
    try:
        loaded = json.loads(status_path(settings, database).read_text())
    except (OSError, ValueError):
        return data
    if isinstance(loaded, dict):
        data.update({k: v for k, v in loaded.items() if k in data or k in RESTIC_KEYS})
    return data


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
) -> dict[str, Any]:
    """Update the tenant's status after one backup attempt and return it."""
    assert offsite in OFFSITE_STATES
    when = time.time() if when is None else when
    with _lock:
        data = read_status(settings, database)
        if ok:
            data["last_success"] = when
            data["last_error"] = None
        else:
            data["last_failure"] = when
            data["last_error"] = error or "failed"
            data["failures_total"] = int(data["failures_total"] or 0) + 1
        if duration is not None:
            data["last_duration_seconds"] = round(duration, 3)
        if size is not None:
            data["last_size_bytes"] = int(size)
        if file is not None:
            data["last_file"] = str(file)
        data["offsite"] = offsite
        if added is not None:
            data["last_added_bytes"] = int(added)
        if repository_size is not None:
            data["repository_size_bytes"] = int(repository_size)
        atomic_write_json(status_path(settings, database), data)
    return data
