"""The `audit` table: who did what to which tenant through the control API, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg2.extensions

_COLUMNS = "id, at, token, action, tenant, status, result, job::text"


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    token: str | None
    action: str
    tenant: str | None
    status: int
    result: str
    job: str | None


def insert(
    cr: psycopg2.extensions.cursor,
    *,
    token: str | None,
    action: str,
    tenant: str | None,
    status: int,
    result: str,
    job: str | None,
) -> Entry:
    cr.execute(
        f"INSERT INTO audit (token, action, tenant, status, result, job) "
        f"VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
        (token, action, tenant, status, result, job),
    )
    return Entry(*cr.fetchone())


def recent(
    cr: psycopg2.extensions.cursor, *, tenant: str | None = None, limit: int = 100
) -> list[Entry]:
    if tenant is None:
        cr.execute(f"SELECT {_COLUMNS} FROM audit ORDER BY id DESC LIMIT %s", (limit,))
    else:
        cr.execute(
            f"SELECT {_COLUMNS} FROM audit WHERE tenant = %s ORDER BY id DESC LIMIT %s",
            (tenant, limit),
        )
    return [Entry(*r) for r in cr.fetchall()]
