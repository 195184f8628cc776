"""Every tenant with its sizes, Odoo version and state, and what killed operations left.

One query gives every database's write counters and connections (postgres.write_counters); the
tenants written to since the last listing (see tenants.listing_memo) are then measured and asked
for their version and state, over 8 connections at once.
Hidden databases of odoo-saas's own operations are listed too when one is left behind (state
`orphaned-<kind>`) or still being worked on (`in-progress-<kind>`): see tenants.hidden.
A tenant the catalog says is suspended (control.suspension) is `suspended` where it would be
ready, neutralized or pending: the state a hoster acts on first.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions

from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.core.errors import SaasError, first_line
from odoo_saas_tools.core.odoo_series import is_current
from odoo_saas_tools.core.reserved import RESERVED_PREFIX
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import write_counters
from odoo_saas_tools.postgres.connection import (
    base_version,
    connect,
    owned_databases,
    server_session,
)
from odoo_saas_tools.tenants import filestore, hidden, listing_memo

log = logging.getLogger(__name__)

INSPECTORS = 8
SUSPENDED = "suspended"
SUSPENDABLE_STATES = ("ready", "neutralized", "pending")  # a worse state is kept


@dataclass
class TenantRow:
    name: str
    db_size_bytes: int
    filestore_bytes: int
    odoo_version: str | None
    state: str
    connections: int
    internal_users: int | None = None  # active internal users, where res_users says


# Internal users who can log in (portal and public users are `share`): what a plan's max_users
# counts, Odoo's own definition.
INTERNAL_USERS_SQL = "SELECT count(*) FROM res_users WHERE active AND NOT share"
_FACTS_SQL = (
    "SELECT (SELECT latest_version FROM ir_module_module WHERE name = 'base'), "
    "(SELECT count(*) FROM ir_module_module "
    " WHERE state IN ('to install', 'to upgrade', 'to remove')), "
    "(SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'), {users}"
)
FACTS_SQL = _FACTS_SQL.format(users=f"({INTERNAL_USERS_SQL})")
FACTS_SQL_WITHOUT_USERS = _FACTS_SQL.format(users="NULL::bigint")


def _inspect(settings: Settings, name: str) -> tuple[str | None, str, int | None]:
    """(base version, state, internal users) read from the tenant itself."""
    try:
        with connect(settings, name) as conn, conn.cursor() as cr:
            # two round trips per tenant: with hundreds of tenants they add up
            cr.execute(
                "SELECT to_regclass('ir_module_module') IS NOT NULL, "
                "to_regclass('ir_config_parameter') IS NOT NULL, "
                "(SELECT count(*) = 2 FROM pg_attribute WHERE attrelid = to_regclass('res_users')"
                " AND attname IN ('active', 'share') AND NOT attisdropped)"
            )
            has_modules, has_params, has_users = cr.fetchone()
            if not has_modules:
                return None, "not-odoo", None
            if not has_params:
                return base_version(cr) or None, "damaged", None
            cr.execute(FACTS_SQL if has_users else FACTS_SQL_WITHOUT_USERS)
            version, pending, neutralized, count = cr.fetchone()
            return version or None, _state(version, pending, neutralized), count
    except SaasError:
        return None, "unreachable", None
    except psycopg2.Error:
        # an Odoo-looking database missing Odoo's tables: listed, not a crash of the whole list
        return None, "damaged", None


def _state(version: str | None, pending: int, neutralized: str | None) -> str:
    if not is_current(version or None):
        return "other-version"
    if pending:
        return "pending"
    if (neutralized or "").lower() in ("true", "1"):
        return "neutralized"
    return "ready"


def tenants(
    settings: Settings,
    *,
    fresh: bool = False,
    only: set[str] | None = None,
    leftovers: bool = True,
    conn: psycopg2.extensions.connection | None = None,
) -> list[TenantRow]:
    """Tenants (not templates, not our hidden databases) and the hidden ones left behind.

    Tenants nobody wrote to since the last listing are not asked again (tenants.listing_memo);
    `fresh` asks every one. only: just these tenants (the others' facts stay remembered);
    leftovers: with the rows of what killed operations left (tenants.hidden). conn: a
    connection (to any database of the server) the caller already has, for the server's
    catalogs.
    """
    names = [n for n in owned_databases(settings, conn) if not n.startswith(RESERVED_PREFIX)]
    if only is not None:
        names = [n for n in names if n in only]
    with server_session(settings, conn) as session, session.cursor() as cr:
        counters = write_counters.read(cr, settings, names)
        memo = listing_memo.ListingMemo.open(
            settings, counters.lifetime or "", fresh=fresh or counters.lifetime is None
        )
        found = counters.keys
        present = [name for name in names if name in found]  # not dropped meanwhile
        known = {name: memo.facts(name, found[name]) for name in present}
        asked = [name for name in present if known[name] is None]
        resize = memo.sizes_due([name for name in present if known[name] is not None])
        cr.execute(
            "SELECT datname, pg_database_size(datname) FROM pg_database WHERE datname = ANY(%s)",
            (asked + resize,),
        )
        sizes = dict(cr.fetchall())
    for name in resize:
        if name in sizes:
            known[name] = memo.resized(name, int(sizes[name]))
    asked = [name for name in asked if name in sizes]
    with ThreadPoolExecutor(max_workers=INSPECTORS) as pool:
        inspected = dict(zip(asked, pool.map(lambda n: _inspect(settings, n), asked), strict=True))
    rows = []
    for name in present:
        facts = known[name]
        if facts is None:
            if name not in inspected:
                continue
            version, state, users = inspected[name]
            facts = listing_memo.TenantFacts(version, state, int(sizes[name]), users)
            if state != "unreachable":
                memo.remember(name, found[name], facts)
        store = filestore.listed_path(settings, name)
        rows.append(
            TenantRow(
                name=name,
                db_size_bytes=facts.db_size_bytes,
                filestore_bytes=memo.filestore_size(name, store, filestore.size) if store else 0,
                odoo_version=facts.version,
                state=facts.state,
                connections=counters.connections[name],
                internal_users=facts.internal_users,
            )
        )
    if only is None:
        memo.keep_only({row.name for row in rows})
    memo.save()
    suspended = suspended_tenants(settings)
    for row in rows:
        if row.name in suspended and row.state in SUSPENDABLE_STATES:
            row.state = SUSPENDED
    if not leftovers:
        return rows
    for orphan in hidden.find(settings, conn=conn):
        state = ("in-progress-" if orphan.busy else "orphaned-") + orphan.kind
        rows.append(TenantRow(orphan.name, 0, 0, None, state, 0))
    return rows


def catalog_routing(settings: Settings) -> dict[str, catalog_tenants.Routing]:
    """What the catalog says of each tenant (state, plan limits), as Odoo's role reads it;
    nothing when there is no catalog yet (none is made)."""
    with store.existing_session(settings) as cr:
        return {} if cr is None else catalog_tenants.routing(cr)


def suspended_tenants(settings: Settings) -> set[str]:
    """The tenants the catalog says are suspended; none when it cannot be read (said in the
    log: the list itself still comes)."""
    try:
        routing = catalog_routing(settings)
    except (SaasError, psycopg2.Error) as exc:
        log.warning("the catalog could not be read, suspensions not shown: %s", first_line(exc))
        return set()
    return {name for name, r in routing.items() if r.state == catalog_tenants.SUSPENDED}
