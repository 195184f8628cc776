"""The `tenant` table: what the catalog knows of a tenant database beyond PostgreSQL (its plan,
its suspension). A tenant without a row is on plan `default` and active."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg2.extensions

_COLUMNS = "name, plan, state, state_reason, state_changed_at, trial_ends_at, created_at"


@dataclass(frozen=True)
class Row:
    name: str  # the tenant's database
    plan: str
    state: str  # active | suspended
    state_reason: str
    state_changed_at: datetime | None
    trial_ends_at: datetime | None
    created_at: datetime


def database_exists(cr: psycopg2.extensions.cursor, name: str) -> bool:
    """Whether the server has a database name (pg_database is shared: seen from the catalog)."""
    cr.execute("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = %s)", (name,))
    return bool(cr.fetchone()[0])


def get(cr: psycopg2.extensions.cursor, name: str) -> Row | None:
    cr.execute(f"SELECT {_COLUMNS} FROM tenant WHERE name = %s", (name,))
    row = cr.fetchone()
    return Row(*row) if row else None


def all_rows(cr: psycopg2.extensions.cursor) -> dict[str, Row]:
    cr.execute(f"SELECT {_COLUMNS} FROM tenant")
    return {r[0]: Row(*r) for r in cr.fetchall()}


def ensure(cr: psycopg2.extensions.cursor, name: str, plan: str = "default") -> Row:
    """name's row, made (on plan) when it has none."""
    cr.execute(
        "INSERT INTO tenant (name, plan) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
        (name, plan),
    )
    row = get(cr, name)
    assert row is not None
    return row


def put_new(cr: psycopg2.extensions.cursor, name: str, plan: str) -> None:
    """A tenant just made (or restored where none was): its plan, active, created now; what an
    earlier tenant of that name left is replaced."""
    cr.execute(
        "INSERT INTO tenant (name, plan) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET "
        "plan = EXCLUDED.plan, state = 'active', state_reason = '', state_changed_at = NULL, "
        "trial_ends_at = NULL, created_at = now()",
        (name, plan),
    )


def set_plan(cr: psycopg2.extensions.cursor, name: str, plan: str) -> None:
    cr.execute("UPDATE tenant SET plan = %s WHERE name = %s", (plan, name))


def set_state(cr: psycopg2.extensions.cursor, name: str, state: str, reason: str) -> None:
    cr.execute(
        "UPDATE tenant SET state = %s, state_reason = %s, state_changed_at = now() WHERE name = %s",
        (state, reason, name),
    )


def delete(cr: psycopg2.extensions.cursor, name: str) -> None:
    cr.execute("DELETE FROM tenant WHERE name = %s", (name,))
