"""The catalog's `tenant_size` rows: each tenant's database and filestore size, one row a day
(the lifecycle loop samples them; the console draws them). Keyed by the tenant's database.

Plain functions on the caller's cursor, no logic: control/lifecycle decides what to write.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg2.extensions
from psycopg2.extras import execute_values

Cursor = psycopg2.extensions.cursor


@dataclass(frozen=True)
class Size:
    tenant: str  # the tenant's database
    day: dt.date  # UTC
    db_bytes: int
    filestore_bytes: int


def sampled_on(cr: Cursor, day: dt.date) -> set[str]:
    """The tenants that have day's row already."""
    cr.execute("SELECT tenant FROM tenant_size WHERE day = %s", (day,))
    return {row[0] for row in cr.fetchall()}


def put(cr: Cursor, sizes: list[Size]) -> None:
    """Each size as its tenant's row of its day (a second loop the same day overwrites it)."""
    execute_values(
        cr,
        "INSERT INTO tenant_size (tenant, day, db_bytes, filestore_bytes) VALUES %s "
        "ON CONFLICT (tenant, day) DO UPDATE SET db_bytes = EXCLUDED.db_bytes, "
        "filestore_bytes = EXCLUDED.filestore_bytes",
        [(s.tenant, s.day, s.db_bytes, s.filestore_bytes) for s in sizes],
    )


def history(cr: Cursor, tenant: str, since: dt.date) -> list[Size]:
    """tenant's rows from since on, oldest first."""
    cr.execute(
        "SELECT tenant, day, db_bytes, filestore_bytes FROM tenant_size "
        "WHERE tenant = %s AND day >= %s ORDER BY day",
        (tenant, since),
    )
    return [Size(*row) for row in cr.fetchall()]


def prune(cr: Cursor, before: dt.date) -> int:
    """Rows older than before go."""
    cr.execute("DELETE FROM tenant_size WHERE day < %s", (before,))
    return cr.rowcount


def forget_tenant(cr: Cursor, tenant: str) -> None:
    """A dropped tenant's history: a later tenant of the same name starts afresh."""
    cr.execute("DELETE FROM tenant_size WHERE tenant = %s", (tenant,))


def move_tenant(cr: Cursor, old: str, new: str) -> None:
    """A renamed tenant keeps its history (whatever the new name had left is dropped first)."""
    cr.execute("DELETE FROM tenant_size WHERE tenant = %s", (new,))
    cr.execute("UPDATE tenant_size SET tenant = %s WHERE tenant = %s", (new, old))
