"""PostgreSQL figures: the tenants' sizes and connections, and whether the server answers.

Each comes from one query on the `postgres` database, whatever the number of tenants; the look
inside each tenant is tenant_scans.py's, in the background refresh, never during a scrape.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import psycopg2.extensions

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import connect

APPLICATION_NAME = "odoo-saas-metrics"  # so our own connections are not counted as the tenants'
CONNECT_TIMEOUT = 3  # seconds; a hung PostgreSQL must not stall the refresh for long
STATEMENT_TIMEOUT_MS = 10_000


@contextlib.contextmanager
def session(settings: Settings, dbname: str = "postgres") -> Iterator[psycopg2.extensions.cursor]:
    """A cursor with short connect and statement timeouts; raises SaasError when unreachable.

    The session's settings travel in the start-up packet: a round trip fewer per tenant scanned.
    """
    with (
        connect(
            settings,
            dbname,
            connect_timeout=CONNECT_TIMEOUT,
            application_name=APPLICATION_NAME,
            options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        ) as conn,
        conn.cursor() as cr,
    ):
        yield cr


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
