"""PostgreSQL figures: which tenants exist, their sizes, connections and overdue scheduled actions.

Sizes and connections come from one query each on the `postgres` database, whatever the number of
tenants; only the scheduled-action check needs a connection to each tenant, and that runs in the
background refresh (see refresher.py), never during a scrape.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg2.extensions

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.odoo_series import is_current
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import (
    RESERVED_PREFIX,
    base_version,
    connect,
    filter_allows,
    owned_databases,
)

log = logging.getLogger(__name__)

APPLICATION_NAME = "odoo-saas-metrics"  # so our own connections are not counted as the tenants'
CONNECT_TIMEOUT = 3  # seconds; a hung PostgreSQL must not stall the refresh for long
STATEMENT_TIMEOUT_MS = 10_000
# A scheduled action whose next call is this far in the past is not merely queued: cron
# workers are stuck, disabled or overloaded.
CRON_OVERDUE_SECONDS = 3600
SCAN_THREADS = 4


@contextlib.contextmanager
def session(settings: Settings, dbname: str = "postgres") -> Iterator[psycopg2.extensions.cursor]:
    """A cursor with short connect and statement timeouts; raises SaasError when unreachable."""
    with connect(settings, dbname, connect_timeout=CONNECT_TIMEOUT) as conn, conn.cursor() as cr:
        cr.execute(
            "SET statement_timeout = %s; SET application_name = %s",
            (STATEMENT_TIMEOUT_MS, APPLICATION_NAME),
        )
        yield cr


@dataclass(frozen=True)
class TenantScan:
    """What one look inside a tenant database tells."""

    version: str | None  # base's latest_version, None when not an Odoo database
    cron_overdue: int


def scan_tenant(settings: Settings, dbname: str) -> TenantScan:
    """Odoo version and overdue active scheduled actions, through one connection."""
    with session(settings, dbname) as cr:
        version = base_version(cr)
        if version is None:
            return TenantScan(None, 0)
        version = version or None
        cr.execute("SELECT to_regclass('ir_cron') IS NOT NULL")
        has_cron = cr.fetchone()[0]
        overdue = 0
        if has_cron:
            # nextcall is stored as naive UTC, like every Odoo datetime
            cr.execute(
                """
                SELECT count(*) FROM ir_cron
                 WHERE active
                   AND nextcall < (now() AT TIME ZONE 'UTC') - make_interval(secs => %s)
                """,
                (CRON_OVERDUE_SECONDS,),
            )
            overdue = cr.fetchone()[0]
        return TenantScan(version, overdue)


def scan_tenants(
    settings: Settings, previous: Mapping[str, TenantScan] | None = None
) -> dict[str, TenantScan]:
    """Every Odoo 19 database this stack serves (as tenant_databases decides), with its scan.

    Same rules as postgres.tenant_databases, but one connection per tenant gives both the
    version and the cron figure, a few at a time. A known tenant that cannot be looked into
    this time (too many connections, say) keeps its previous scan rather than vanishing.
    """
    candidates = [
        name
        for name in owned_databases(settings)
        if not name.startswith(RESERVED_PREFIX) and filter_allows(settings, name)
    ]

    def one(name: str) -> tuple[str, TenantScan | None]:
        try:
            return name, scan_tenant(settings, name)
        except SaasError as exc:  # dropped meanwhile, or refusing connections
            log.debug("skipping %s: %s", name, exc)
            return name, None
        except psycopg2.Error as exc:
            log.warning("cannot inspect %s: %s", name, str(exc).strip().splitlines()[0])
            return name, None

    with ThreadPoolExecutor(SCAN_THREADS) as pool:
        results = list(pool.map(one, candidates))
    previous = previous or {}
    results = [(name, scan or previous.get(name)) for name, scan in results]
    return {name: scan for name, scan in results if scan is not None and is_current(scan.version)}


def database_sizes(settings: Settings, names: Sequence[str]) -> dict[str, int]:
    """pg_database_size of each name still present, in one query."""
    if not names:
        return {}
    with session(settings) as cr:
        cr.execute(
            "SELECT datname, pg_database_size(oid) FROM pg_database WHERE datname = ANY(%s)",
            (list(names),),
        )
        return {name: int(size) for name, size in cr.fetchall()}


def connection_counts(settings: Settings, names: Sequence[str]) -> dict[str, int]:
    """Client connections per tenant (pg_stat_activity), 0 for tenants without any."""
    counts = dict.fromkeys(names, 0)
    with session(settings) as cr:
        cr.execute(
            """
            SELECT datname, count(*) FROM pg_stat_activity
             WHERE backend_type = 'client backend' AND datname = ANY(%s)
               AND application_name <> %s
             GROUP BY datname
            """,
            (list(names), APPLICATION_NAME),
        )
        for name, count in cr.fetchall():
            counts[name] = int(count)
    return counts


def ping(settings: Settings) -> None:
    """Raise SaasError unless PostgreSQL answers a query."""
    with session(settings) as cr:
        cr.execute("SELECT 1")
