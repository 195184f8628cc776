"""Which databases were written to since we last looked: pg_stat_database's write counters.

`db list` and the metrics exporter remember what they learnt of each tenant and connect to it
again only once its counter moved: connecting to 500 tenants costs PostgreSQL 500 backend starts
(~5 s of its CPU on 2 cores), reading the counters one query. A version, a module state, a
scheduled action's next call all change by writes only.

A database's key joins its oid (a dropped and recreated name starts afresh), its own reset time
and its rows inserted, updated and deleted. The counters live as long as `lifetime` says: they
survive a clean restart, and a crash, a failover or pg_upgrade discards them, each of which also
resets the shared bgwriter statistics (per-database counters restart at 0 with no reset time of
their own). With track_counts off nothing counts, and `lifetime` is None: trust nothing.

PostgreSQL publishes a session's counters up to ~10 s after its commit, so what is remembered
can lag a write by that long.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg2.extensions

from odoo_saas_tools.core.settings import Settings


@dataclass(frozen=True)
class WriteCounters:
    lifetime: str | None  # changes whenever the counters were discarded; None: not counting
    keys: dict[str, str]  # each database still present -> its key
    connections: dict[str, int]  # each database still present -> its backends (ours included)
    now: float  # the server's clock, epoch seconds, read before the counters


def read(cr: psycopg2.extensions.cursor, settings: Settings, names: Sequence[str]) -> WriteCounters:
    """The counters of names, through cr (a connection to any database of the cluster)."""
    cr.execute(
        "SELECT extract(epoch FROM now()), (SELECT stats_reset FROM pg_stat_bgwriter), "
        "current_setting('track_counts')::bool"
    )
    now, counters_since, counting = cr.fetchone()
    cr.execute(
        """
        SELECT d.datname, d.oid, s.stats_reset,
               s.tup_inserted + s.tup_updated + s.tup_deleted, coalesce(a.n, 0)
          FROM pg_database d
          LEFT JOIN pg_stat_database s ON s.datid = d.oid
          LEFT JOIN (SELECT datname, count(*) AS n FROM pg_stat_activity GROUP BY 1) a
                 ON a.datname = d.datname
         WHERE d.datname = ANY(%s)
        """,
        (list(names),),
    )
    keys, connections = {}, {}
    for name, oid, reset, writes, conns in cr.fetchall():
        keys[name] = f"{oid}:{reset}:{writes}"
        connections[name] = int(conns)
    lifetime = None
    if counting:
        lifetime = f"{settings.db_host}:{settings.db_port}:{settings.db_user}:{counters_since}"
    return WriteCounters(lifetime, keys, connections, float(now))
