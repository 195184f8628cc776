"""The catalog's `plan` rows: the limits of each plan Odoo's routing and the exporter read
(through the `odoo_tenant` view), mirrored from the hoster's plans file (control.plans).

A plan removed from the file while tenants still use it keeps its last limits (`declared`
false) rather than leaving them unlimited; one nobody uses any more is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2.extensions

Cursor = psycopg2.extensions.cursor


@dataclass(frozen=True)
class Limits:
    name: str
    max_users: int | None
    max_storage_mb: int | None


def mirror(cr: Cursor, plans: list[Limits]) -> bool:
    """Make the rows say what plans says; whether anything changed (the caller bumps)."""
    cr.execute("SELECT name, max_users, max_storage_mb, declared FROM plan")
    before = {name: (users, storage, declared) for name, users, storage, declared in cr.fetchall()}
    changed = False
    for plan in plans:
        if before.get(plan.name) != (plan.max_users, plan.max_storage_mb, True):
            _upsert(cr, plan)
            changed = True
    wanted = {p.name for p in plans}
    gone = sorted(set(before) - wanted)
    if gone:
        cr.execute(
            "DELETE FROM plan WHERE name = ANY(%s) AND name NOT IN (SELECT plan FROM tenant) "
            "RETURNING name",
            (gone,),
        )
        changed |= bool(cr.fetchall())
        cr.execute(
            "UPDATE plan SET declared = false WHERE name = ANY(%s) AND declared RETURNING name",
            (gone,),
        )
        changed |= bool(cr.fetchall())
    return changed


def ensure(cr: Cursor, plan: Limits) -> bool:
    """One plan's row says plan's limits (a new tenant's, in its registration's transaction);
    whether it changed."""
    cr.execute("SELECT max_users, max_storage_mb, declared FROM plan WHERE name = %s", (plan.name,))
    if cr.fetchone() == (plan.max_users, plan.max_storage_mb, True):
        return False
    _upsert(cr, plan)
    return True


def _upsert(cr: Cursor, plan: Limits) -> None:
    cr.execute(
        "INSERT INTO plan (name, max_users, max_storage_mb) VALUES (%s, %s, %s) "
        "ON CONFLICT (name) DO UPDATE SET max_users = EXCLUDED.max_users, "
        "max_storage_mb = EXCLUDED.max_storage_mb, declared = true, synced_at = now()",
        (plan.name, plan.max_users, plan.max_storage_mb),
    )


def undeclared_in_use(cr: Cursor) -> dict[str, int]:
    """Plans gone from the file that tenants still have, with how many tenants."""
    cr.execute(
        "SELECT p.name, count(t.name) FROM plan p JOIN tenant t ON t.plan = p.name "
        "WHERE NOT p.declared GROUP BY p.name"
    )
    return dict(cr.fetchall())
