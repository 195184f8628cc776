"""The catalog's `event` table: the outbox of what happened to tenants (suspended, resumed,
plan changed, quota exceeded, trial ended), written in the transaction of the change it tells
about, so an event exists exactly when its change committed. Webhook deliveries read it.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

import psycopg2.extensions

Cursor = psycopg2.extensions.cursor


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    tenant: str | None
    payload: dict
    created_at: dt.datetime


def insert(cr: Cursor, type: str, tenant: str | None, payload: dict) -> str:
    """A new event in the caller's transaction; its id."""
    event_id = str(uuid.uuid4())
    cr.execute(
        "INSERT INTO event (id, type, tenant, payload) VALUES (%s, %s, %s, %s)",
        (event_id, type, tenant, json.dumps(payload, sort_keys=True, default=_json_value)),
    )
    return event_id


def _json_value(value: object) -> str:
    """Times as ISO 8601 (what a webhook's receiver parses), anything else as its text."""
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def recent(cr: Cursor, *, tenant: str | None = None, limit: int = 100) -> list[Event]:
    """The newest events first (of one tenant, or of all)."""
    cr.execute(
        "SELECT id::text, type, tenant, payload, created_at FROM event "
        "WHERE %(tenant)s::text IS NULL OR tenant = %(tenant)s "
        "ORDER BY created_at DESC, id LIMIT %(limit)s",
        {"tenant": tenant, "limit": limit},
    )
    return [Event(*row) for row in cr.fetchall()]


def prune(cr: Cursor, keep: dt.timedelta) -> int:
    """Forget events older than `keep` (by the server's clock, which stamped them) whose
    deliveries have all ended (delivered or given up: theirs go with them); how many. An event
    still being delivered is kept."""
    cr.execute(
        "DELETE FROM event e WHERE e.created_at < now() - %s AND e.fanned_out AND NOT EXISTS "
        "(SELECT 1 FROM delivery d WHERE d.event = e.id AND d.state = 'pending')",
        (keep,),
    )
    return cr.rowcount
