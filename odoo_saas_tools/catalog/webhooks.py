"""The `webhook` and `delivery` tables: who subscribed to which events, and each event's
delivery to each of them. Plain reads and writes on the caller's cursor (control.webhooks and
control.webhook_delivery decide when). A subscriber's secret is read here only by the
management role: Odoo's role is granted nothing of these tables.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg2.extensions

Cursor = psycopg2.extensions.cursor
STATES = ("pending", "delivered", "failed")
_WEBHOOK = "id::text, url, events, created_at"
_DELIVERY = (
    "d.id::text, d.webhook::text, d.event::text, e.type, d.state, d.attempts, d.last_status, "
    "d.last_error, d.next_attempt_at, d.delivered_at, d.created_at"
)


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    events: list[str]
    created_at: dt.datetime


@dataclass(frozen=True)
class Delivery:
    id: str
    webhook: str
    event_id: str
    event_type: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: dt.datetime
    delivered_at: dt.datetime | None
    created_at: dt.datetime


@dataclass(frozen=True)
class Due:
    """A pending delivery claimed for an attempt, with what the attempt sends."""

    id: str
    attempts: int
    url: str
    secret: str
    event_id: str
    event_type: str
    tenant: str | None
    payload: dict[str, Any]
    event_created_at: dt.datetime


def insert(cr: Cursor, url: str, events: list[str], secret: str) -> Webhook:
    cr.execute(
        f"INSERT INTO webhook (id, url, events, secret) VALUES (%s, %s, %s, %s) "
        f"RETURNING {_WEBHOOK}",
        (str(uuid.uuid4()), url, sorted(set(events)), secret),
    )
    return Webhook(*cr.fetchone())


def all_webhooks(cr: Cursor) -> list[Webhook]:
    cr.execute(f"SELECT {_WEBHOOK} FROM webhook ORDER BY created_at, id")
    return [Webhook(*row) for row in cr.fetchall()]


def get(cr: Cursor, webhook_id: str) -> Webhook | None:
    cr.execute(f"SELECT {_WEBHOOK} FROM webhook WHERE id = %s", (webhook_id,))
    row = cr.fetchone()
    return Webhook(*row) if row else None


def delete(cr: Cursor, webhook_id: str) -> bool:
    """The subscription and its deliveries gone; False when there was none."""
    cr.execute("DELETE FROM webhook WHERE id = %s RETURNING id", (webhook_id,))
    return cr.fetchone() is not None


def deliveries(cr: Cursor, webhook_id: str, limit: int) -> list[Delivery]:
    """A subscription's deliveries, newest first."""
    cr.execute(
        f"SELECT {_DELIVERY} FROM delivery d JOIN event e ON e.id = d.event "
        "WHERE d.webhook = %s ORDER BY d.created_at DESC, d.id LIMIT %s",
        (webhook_id, limit),
    )
    return [Delivery(*row) for row in cr.fetchall()]


def fan_out(cr: Cursor, limit: int) -> int:
    """Deliveries for up to limit events not fanned out yet (the oldest; others' locked rows
    skipped): one per subscription to its type that existed when it was made. How many
    events."""
    cr.execute(
        "SELECT id FROM event WHERE NOT fanned_out ORDER BY created_at "
        "LIMIT %s FOR UPDATE SKIP LOCKED",
        (limit,),
    )
    ids = [str(row[0]) for row in cr.fetchall()]
    if not ids:
        return 0
    cr.execute(
        "INSERT INTO delivery (id, webhook, event, next_attempt_at) "
        "SELECT gen_random_uuid(), w.id, e.id, e.created_at FROM event e "
        "JOIN webhook w ON e.type = ANY (w.events) AND w.created_at <= e.created_at "
        "WHERE e.id = ANY (%s::uuid[]) ON CONFLICT (webhook, event) DO NOTHING",
        (ids,),
    )
    cr.execute("UPDATE event SET fanned_out = true WHERE id = ANY (%s::uuid[])", (ids,))
    return len(ids)


def claim_due(cr: Cursor, now: dt.datetime) -> Due | None:
    """The pending delivery due first, row-locked for the caller's transaction (an attempt
    holds it until its outcome is recorded); others' locked rows skipped (several API
    processes deliver)."""
    cr.execute(
        "SELECT d.id::text, d.attempts, w.url, w.secret, e.id::text, e.type, e.tenant, "
        "e.payload, e.created_at FROM delivery d "
        "JOIN webhook w ON w.id = d.webhook JOIN event e ON e.id = d.event "
        "WHERE d.state = 'pending' AND d.next_attempt_at <= %s "
        "ORDER BY d.next_attempt_at LIMIT 1 FOR UPDATE OF d SKIP LOCKED",
        (now,),
    )
    row = cr.fetchone()
    return Due(*row) if row else None


def record(
    cr: Cursor,
    delivery_id: str,
    *,
    state: str,
    status: int | None,
    error: str | None,
    next_attempt_at: dt.datetime | None,
    now: dt.datetime,
) -> None:
    """An attempt's outcome: delivered, pending again (next_attempt_at) or failed."""
    assert state in STATES
    cr.execute(
        "UPDATE delivery SET attempts = attempts + 1, state = %s, last_status = %s, "
        "last_error = %s, next_attempt_at = coalesce(%s, next_attempt_at), "
        "delivered_at = CASE WHEN %s = 'delivered' THEN %s END WHERE id = %s",
        (state, status, error, next_attempt_at, state, now, delivery_id),
    )
