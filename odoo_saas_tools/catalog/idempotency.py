"""The `idempotency` table: the first outcome of a request made with an Idempotency-Key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg2.extensions
from psycopg2.extras import Json


@dataclass(frozen=True)
class Outcome:
    request_sha256: str
    status: int
    body: Any


def lock_key(cr: psycopg2.extensions.cursor, token: str, key: str) -> None:
    """Serialise requests with this (token, key) until the caller's transaction ends: a retry
    sent while the first is still being handled waits for its outcome instead of racing it."""
    cr.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{token}:{key}",))


def get(cr: psycopg2.extensions.cursor, token: str, key: str, ttl_hours: int) -> Outcome | None:
    cr.execute(
        "SELECT request_sha256, status, body FROM idempotency WHERE token = %s AND key = %s "
        "AND created_at > now() - make_interval(hours => %s)",
        (token, key, ttl_hours),
    )
    row = cr.fetchone()
    return Outcome(*row) if row else None


def put(
    cr: psycopg2.extensions.cursor,
    token: str,
    key: str,
    request_sha256: str,
    status: int,
    body: Any,
) -> None:
    cr.execute(
        "INSERT INTO idempotency (token, key, request_sha256, status, body) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (token, key) DO UPDATE SET "
        "request_sha256 = EXCLUDED.request_sha256, status = EXCLUDED.status, "
        "body = EXCLUDED.body, created_at = now()",
        (token, key, request_sha256, status, Json(body)),
    )


def purge(cr: psycopg2.extensions.cursor, ttl_hours: int) -> int:
    cr.execute(
        "DELETE FROM idempotency WHERE created_at < now() - make_interval(hours => %s)",
        (ttl_hours,),
    )
    return cr.rowcount
