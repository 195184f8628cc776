"""The catalog's `backup_seen` rows: per tenant database, the last scheduled backup's success
and failure times (unix seconds, as the backup status files hold them) already told about.

Plain functions on the caller's cursor, no logic: control/backup_watch decides what to tell.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2.extensions
from psycopg2.extras import execute_values

Cursor = psycopg2.extensions.cursor


@dataclass(frozen=True)
class Seen:
    tenant: str  # the tenant's database
    last_success: float | None
    last_failure: float | None


def all_seen(cr: Cursor) -> dict[str, Seen]:
    """Every tenant's row, locked for the caller's transaction (one loop tells each once)."""
    cr.execute("SELECT tenant, last_success, last_failure FROM backup_seen FOR UPDATE")
    return {row[0]: Seen(*row) for row in cr.fetchall()}


def put(cr: Cursor, rows: list[Seen]) -> None:
    execute_values(
        cr,
        "INSERT INTO backup_seen (tenant, last_success, last_failure) VALUES %s "
        "ON CONFLICT (tenant) DO UPDATE SET last_success = EXCLUDED.last_success, "
        "last_failure = EXCLUDED.last_failure",
        [(r.tenant, r.last_success, r.last_failure) for r in rows],
    )
