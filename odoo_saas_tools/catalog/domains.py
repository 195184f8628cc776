"""The catalog's `domain` table: custom domains of tenants, typed. No business logic here
(domains/ decides what may be added, verified or made primary).

A row is a claim (domain, tenant, token); it serves its tenant once `verified_at` is set, which
is what the `odoo_domain` view shows Odoo's routing. The domain is the primary key: two tenants
can never hold the same one, even when two claims race.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import psycopg2.extensions

COLUMNS = "domain, tenant, token, verified_at, is_primary, created_at"


@dataclass(frozen=True)
class Domain:
    domain: str
    tenant: str
    token: str
    verified_at: datetime.datetime | None
    is_primary: bool
    created_at: datetime.datetime

    @property
    def verified(self) -> bool:
        return self.verified_at is not None


def get(cr: psycopg2.extensions.cursor, domain: str, *, lock: bool = False) -> Domain | None:
    """The row of domain; lock: FOR UPDATE (a verify or a remove racing another change)."""
    cr.execute(
        f"SELECT {COLUMNS} FROM domain WHERE domain = %s{' FOR UPDATE' if lock else ''}",
        (domain,),
    )
    row = cr.fetchone()
    return Domain(*row) if row else None


def of_tenants(cr: psycopg2.extensions.cursor, tenant: str | None = None) -> list[Domain]:
    """Every domain (of one tenant when given), by tenant then domain."""
    cr.execute(
        f"SELECT {COLUMNS} FROM domain WHERE %(t)s IS NULL OR tenant = %(t)s "
        "ORDER BY tenant, domain",
        {"t": tenant},
    )
    return [Domain(*row) for row in cr.fetchall()]


def insert(cr: psycopg2.extensions.cursor, domain: str, tenant: str, token: str) -> Domain:
    """A new, unverified claim; psycopg2.errors.UniqueViolation when the domain is taken."""
    cr.execute(
        f"INSERT INTO domain (domain, tenant, token) VALUES (%s, %s, %s) RETURNING {COLUMNS}",
        (domain, tenant, token),
    )
    return Domain(*cr.fetchone())


def mark_verified(cr: psycopg2.extensions.cursor, domain: str) -> Domain:
    cr.execute(
        f"UPDATE domain SET verified_at = coalesce(verified_at, now()) WHERE domain = %s "
        f"RETURNING {COLUMNS}",
        (domain,),
    )
    return Domain(*cr.fetchone())


def set_primary(cr: psycopg2.extensions.cursor, domain: str, tenant: str) -> None:
    """domain becomes tenant's only primary domain."""
    cr.execute(
        "UPDATE domain SET is_primary = false WHERE tenant = %s AND is_primary AND domain <> %s",
        (tenant, domain),
    )
    cr.execute("UPDATE domain SET is_primary = true WHERE domain = %s", (domain,))


def delete(cr: psycopg2.extensions.cursor, domain: str) -> None:
    cr.execute("DELETE FROM domain WHERE domain = %s", (domain,))


def forget_tenant(cr: psycopg2.extensions.cursor, tenant: str) -> int:
    """Every domain of a dropped tenant: a later tenant of the same name must not inherit them."""
    cr.execute("DELETE FROM domain WHERE tenant = %s", (tenant,))
    return cr.rowcount


def move_tenant(cr: psycopg2.extensions.cursor, old: str, new: str) -> int:
    """A renamed tenant keeps its domains."""
    cr.execute("UPDATE domain SET tenant = %s WHERE tenant = %s", (new, old))
    return cr.rowcount


def is_verified(cr: psycopg2.extensions.cursor, domain: str) -> bool:
    """What Caddy's ask endpoint answers, through the view Odoo's role reads too."""
    cr.execute("SELECT 1 FROM odoo_domain WHERE domain = %s", (domain,))
    return cr.fetchone() is not None


def verified_map(cr: psycopg2.extensions.cursor) -> dict[str, str]:
    """domain -> tenant of every verified domain (the routing's map)."""
    cr.execute("SELECT domain, tenant FROM odoo_domain")
    return dict(cr.fetchall())


def version(cr: psycopg2.extensions.cursor) -> int:
    """The change counter (catalog.store.bump) through the view Odoo's role reads."""
    cr.execute("SELECT version FROM odoo_version")
    return int(cr.fetchone()[0])
