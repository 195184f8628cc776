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
from dataclasses import dataclass, replace

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
    # the active scheduled actions' next calls (epoch seconds, the server's clock), so that a
    # tenant nobody wrote to since is counted again without a connection
    cron_nextcalls: tuple[float, ...] = ()
    writes: int | None = None  # its write counter (pg_stat_database) before this look

    def at(self, now: float) -> TenantScan:
        """The same scan, its overdue actions counted at `now`."""
        late = sum(1 for call in self.cron_nextcalls if call < now - CRON_OVERDUE_SECONDS)
        return replace(self, cron_overdue=late)


def scan_tenant(settings: Settings, dbname: str, writes: int | None = None) -> TenantScan:
    """Odoo version and the active scheduled actions' next calls, through one connection."""
    with session(settings, dbname) as cr:
        version = base_version(cr)
        if version is None:
            return TenantScan(None, 0, writes=writes)
        version = version or None
        cr.execute("SELECT to_regclass('ir_cron') IS NOT NULL, extract(epoch FROM now())")
        has_cron, now = cr.fetchone()
        calls: tuple[float, ...] = ()
        if has_cron:
            # nextcall is stored as naive UTC, like every Odoo datetime: its epoch is UTC's
            cr.execute(
                "SELECT extract(epoch FROM nextcall) FROM ir_cron"
                " WHERE active AND nextcall IS NOT NULL"
            )
            calls = tuple(sorted(float(row[0]) for row in cr.fetchall()))
        return TenantScan(version, 0, calls, writes).at(float(now))


def write_counters(settings: Settings, names: Sequence[str]) -> tuple[dict[str, int], float]:
    """Rows inserted, updated or deleted in each database so far (pg_stat_database), and the
    server's time, through one connection to the `postgres` database."""
    with session(settings) as cr:
        cr.execute("SELECT extract(epoch FROM now())")
        now = float(cr.fetchone()[0])
        cr.execute(
            """
            SELECT d.datname, s.tup_inserted + s.tup_updated + s.tup_deleted
              FROM pg_database d LEFT JOIN pg_stat_database s ON s.datid = d.oid
             WHERE d.datname = ANY(%s)
            """,
            (list(names),),
        )
        return {name: int(count) for name, count in cr.fetchall() if count is not None}, now


def scan_tenants(
    settings: Settings, previous: Mapping[str, TenantScan] | None = None
) -> dict[str, TenantScan]:
    """Every Odoo 19 database this stack serves (as tenant_databases decides), with its scan.

    Same rules as postgres.tenant_databases, but one connection per tenant gives both the
    version and the cron figure, a few at a time. A known tenant that cannot be looked into
    this time (too many connections, say) keeps its previous scan rather than vanishing.

    A tenant nobody wrote to since its last scan (its write counter unchanged) is not looked
    into again: its version can only change by a write, and its overdue actions are counted
    again from the next calls it had. With 500 tenants a pass is then one query instead of 500
    backend starts (~5 s of PostgreSQL's CPU here). PostgreSQL publishes a session's counters
    up to ~10 s after its commit, so a figure can lag a write by that long plus one pass.
    """
    candidates = [
        name
        for name in owned_databases(settings)
        if not name.startswith(RESERVED_PREFIX) and filter_allows(settings, name)
    ]
    previous = previous or {}
    # read before the scans: a write during a scan makes the next pass look again
    counters, now = write_counters(settings, candidates)

    def one(name: str) -> tuple[str, TenantScan | None]:
        known, writes = previous.get(name), counters.get(name)
        if known is not None and writes is not None and known.writes == writes:
            return name, known.at(now)
        try:
            return name, scan_tenant(settings, name, writes)
        except SaasError as exc:  # dropped meanwhile, or refusing connections
            log.debug("skipping %s: %s", name, exc)
            return name, None
        except psycopg2.Error as exc:
            log.warning("cannot inspect %s: %s", name, str(exc).strip().splitlines()[0])
            return name, None

    with ThreadPoolExecutor(SCAN_THREADS) as pool:
        results = list(pool.map(one, candidates))
    results = [(name, scan or _kept(previous.get(name), now)) for name, scan in results]
    return {name: scan for name, scan in results if scan is not None and is_current(scan.version)}


def _kept(scan: TenantScan | None, now: float) -> TenantScan | None:
    """A previous scan kept for a tenant that could not be looked into; looked into next time."""
    return None if scan is None else replace(scan.at(now), writes=None)


def database_sizes(settings: Settings, names: Sequence[str]) -> dict[str, int]:
    """pg_database_size of each name still present, in one query."""
    if not names:
        return {}
    with session(settings) as cr:
        cr.execute(
            "SELECT datname, pg_database_size(oid) FROM pg_database WHERE datname = ANY(%s)",
            (list(names),),
        )
        # NULL: dropped between the listing and this query
        return {name: int(size) for name, size in cr.fetchall() if size is not None}


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
