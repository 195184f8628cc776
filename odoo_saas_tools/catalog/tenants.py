"""The catalog's `tenant` rows: each tenant's plan, state (active or suspended) and what the
lifecycle loop already did about its trial and storage. Keyed by the database name, the name
Odoo's routing, `db list`, backups and metrics know a tenant by. A tenant without a row is
active on the plan `default` (made by `db create`, a restore or a clone; the lifecycle loop
adds its row).

Plain functions on the caller's cursor: the caller owns the transaction, so a state change, the
change counter Odoo polls and the event that tells about it commit together.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg2.extensions

from odoo_saas_tools.catalog.plans import Limits

Cursor = psycopg2.extensions.cursor
ACTIVE, SUSPENDED = "active", "suspended"
DEFAULT_PLAN = "default"
_SELECT = (
    "SELECT name, plan, state, state_reason, state_changed_at, trial_ends_at, created_at, "
    "trial_ended_at, storage_exceeded_at FROM tenant"
)


@dataclass(frozen=True)
class Row:
    name: str  # the tenant's database
    plan: str = DEFAULT_PLAN
    state: str = ACTIVE  # active | suspended
    state_reason: str = ""
    state_changed_at: dt.datetime | None = None
    trial_ends_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    trial_ended_at: dt.datetime | None = None  # when the loop suspended it for that
    storage_exceeded_at: dt.datetime | None = None  # over its storage limit since (None: under)


@dataclass(frozen=True)
class NewTenant:
    """A new tenant's row: its plan, when its trial ends (None: no trial), and the plan's
    limits to record with it (None: the plan's row is left as it is)."""

    plan: str = DEFAULT_PLAN
    trial_ends_at: dt.datetime | None = None
    limits: Limits | None = None


@dataclass(frozen=True)
class Routing:
    """What Odoo's role reads of a tenant (the `odoo_tenant` view)."""

    state: str
    state_reason: str
    max_users: int | None
    max_storage_mb: int | None


def database_exists(cr: Cursor, name: str) -> bool:
    """Whether the server has a database name (pg_database is shared: seen from the catalog)."""
    cr.execute("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = %s)", (name,))
    return bool(cr.fetchone()[0])


def get(cr: Cursor, name: str, *, lock: bool = False) -> Row | None:
    """name's row; lock: FOR UPDATE, so two changes of one tenant queue up."""
    cr.execute(_SELECT + " WHERE name = %s" + (" FOR UPDATE" if lock else ""), (name,))
    row = cr.fetchone()
    return Row(*row) if row else None


def all_rows(cr: Cursor) -> dict[str, Row]:
    cr.execute(_SELECT)
    return {r[0]: Row(*r) for r in cr.fetchall()}


def ensure(cr: Cursor, name: str, plan: str = DEFAULT_PLAN) -> Row:
    """name's row, made (on plan, active) if it had none, locked for the transaction."""
    cr.execute(
        "INSERT INTO tenant (name, plan) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
        (name, plan),
    )
    found = get(cr, name, lock=True)
    assert found is not None
    return found


def put_new(cr: Cursor, name: str, plan: str, trial_ends_at: dt.datetime | None = None) -> None:
    """A tenant just made: its plan and trial, active, created now; what an earlier tenant of
    that name left is replaced."""
    cr.execute(
        "INSERT INTO tenant (name, plan, trial_ends_at) VALUES (%s, %s, %s) "
        "ON CONFLICT (name) DO UPDATE SET plan = EXCLUDED.plan, "
        "trial_ends_at = EXCLUDED.trial_ends_at, state = 'active', state_reason = '', "
        "state_changed_at = NULL, trial_ended_at = NULL, storage_exceeded_at = NULL, "
        "created_at = now()",
        (name, plan, trial_ends_at),
    )


def add_missing(cr: Cursor, names: list[str]) -> list[str]:
    """Rows for the tenants among names that have none; the names added."""
    cr.execute(
        "INSERT INTO tenant (name) SELECT unnest(%s::text[]) ON CONFLICT (name) DO NOTHING "
        "RETURNING name",
        (names,),
    )
    return sorted(row[0] for row in cr.fetchall())


def set_state(cr: Cursor, name: str, state: str, reason: str) -> None:
    cr.execute(
        "UPDATE tenant SET state = %s, state_reason = %s, state_changed_at = now() WHERE name = %s",
        (state, reason, name),
    )


def set_plan(
    cr: Cursor,
    name: str,
    plan: str,
    trial_ends_at: dt.datetime | None,
    trial_ended_at: dt.datetime | None,
) -> None:
    """A new plan: its trial as given, its storage judged afresh against the new limit."""
    cr.execute(
        "UPDATE tenant SET plan = %s, trial_ends_at = %s, trial_ended_at = %s, "
        "storage_exceeded_at = NULL WHERE name = %s",
        (plan, trial_ends_at, trial_ended_at, name),
    )


def set_trial_ended(cr: Cursor, name: str, at: dt.datetime) -> None:
    cr.execute("UPDATE tenant SET trial_ended_at = %s WHERE name = %s", (at, name))


def set_storage_exceeded(cr: Cursor, name: str, since: dt.datetime | None) -> None:
    cr.execute("UPDATE tenant SET storage_exceeded_at = %s WHERE name = %s", (since, name))


def rename(cr: Cursor, old: str, new: str) -> None:
    """old's row becomes new's (a row new's former tenant left is replaced)."""
    cr.execute("DELETE FROM tenant WHERE name = %s", (new,))
    cr.execute("UPDATE tenant SET name = %s WHERE name = %s", (new, old))


def delete(cr: Cursor, name: str) -> None:
    cr.execute("DELETE FROM tenant WHERE name = %s", (name,))


def routing(cr: Cursor) -> dict[str, Routing]:
    """Every tenant's row as Odoo's role sees it (readable by either role)."""
    cr.execute("SELECT name, state, state_reason, max_users, max_storage_mb FROM odoo_tenant")
    return {name: Routing(*rest) for name, *rest in cr.fetchall()}
