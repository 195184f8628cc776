"""Scheduled backups told as webhooks (control.backup_watch): `backup run` writes status files,
the lifecycle turn tells what is new once, and a tenant seen for the first time is only
recorded."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from odoo_saas_tools.backups import status as backup_status
from odoo_saas_tools.catalog import backup_seen, store
from odoo_saas_tools.catalog import events as catalog_events
from odoo_saas_tools.control import backup_watch, events, lifecycle


def _status(db: str, success: float | None, failure: float | None) -> backup_status.BackupStatus:
    return backup_status.BackupStatus(db, last_success=success, last_failure=failure)


@pytest.mark.unit
def test_only_what_is_newer_than_what_was_told_is_told() -> None:
    seen = {
        "a": backup_seen.Seen("a", 100.0, None),
        "b": backup_seen.Seen("b", 100.0, 50.0),
        "c": backup_seen.Seen("c", 100.0, None),
    }
    statuses = {
        "a": _status("a", 200.0, None),  # a new success
        "b": _status("b", 100.0, 150.0),  # a new failure
        "c": _status("c", 100.0, None),  # nothing new
        "d": _status("d", 300.0, 250.0),  # first sight: recorded, not told
    }
    told, rows = backup_watch.decide(statuses, seen)
    assert [(t.type, t.database, t.at) for t in told] == [
        (events.BACKUP_SUCCEEDED, "a", 200.0),
        (events.BACKUP_FAILED, "b", 150.0),
    ]
    assert [r.tenant for r in rows] == ["a", "b", "d"]


def test_a_scheduled_backups_end_is_told_once_by_the_lifecycle_turn(wsettings) -> None:
    db = f"db_watch{uuid.uuid4().hex[:6]}"
    backup_status.record(wsettings, db, ok=True, offsite="disabled", size=10, when=1000.0)
    assert lifecycle.tick(wsettings)["backups_told"] == 0  # first sight
    backup_status.record(wsettings, db, ok=False, offsite="failed", error="timeout", when=1500.0)
    backup_status.record(
        wsettings, db, ok=True, offsite="verified", size=2048, duration=1.5,
        file=Path("acme/odoo_acme_x.zip"), when=2000.0,
    )  # fmt: skip
    assert lifecycle.tick(wsettings)["backups_told"] == 2  # a failure, then a success
    backup_status.record(wsettings, db, ok=False, offsite="failed", error="disk full", when=3000.0)
    assert lifecycle.tick(wsettings)["backups_told"] == 1
    assert lifecycle.tick(wsettings)["backups_told"] == 0  # told once
    with store.session(wsettings) as cr:
        told = [(e.type, e.payload) for e in reversed(catalog_events.recent(cr, tenant=db))]
    # the first two in one transaction (one time), the last one later
    assert sorted(t for t, _ in told[:2]) == [events.BACKUP_FAILED, events.BACKUP_SUCCEEDED]
    ok = next(p for t, p in told if t == events.BACKUP_SUCCEEDED)
    assert (ok["source"], ok["size_bytes"], ok["offsite"]) == ("scheduled", 2048, "verified")
    assert ok["path"] == "acme/odoo_acme_x.zip" and ok["at"].startswith("1970-01-01T00:33:20")
    assert told[-1] == (
        events.BACKUP_FAILED,
        {"name": told[-1][1]["name"], "source": "scheduled", "at": "1970-01-01T00:50:00+00:00",
         "error": "disk full"},
    )  # fmt: skip
