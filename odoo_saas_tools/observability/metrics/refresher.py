"""Background measurement: the exporter serves scrapes from memory, never from PostgreSQL.

Two loops: a fast one (every few seconds) for what changes quickly and is cheap — Odoo's health
endpoint, PostgreSQL reachability and connections, the process tree, backup status files — and a
slow one (ODOO_METRICS_REFRESH_SECONDS) for what costs — the tenant list with one connection per
tenant for scheduled actions and users, database and filestore sizes, the session count, the
catalog (suspensions, plans' limits). A failure of one source is logged once when it starts
and once when it ends; the other figures carry on.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg2

from odoo_saas_tools.backups import status as backup_status
from odoo_saas_tools.catalog.tenants import Routing
from odoo_saas_tools.core.errors import SaasError, first_line
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.observability.metrics import backups, database, process, tenant_scans, web
from odoo_saas_tools.runtime import resources
from odoo_saas_tools.sessions.status import count_sessions
from odoo_saas_tools.sessions.store import StoreError
from odoo_saas_tools.tenants import filestore, listing, spares

log = logging.getLogger(__name__)

# Every probe is a request line in Odoo's log: often enough for alerts, rare enough to stay quiet.
FAST_INTERVAL = 15.0
HEALTH_TIMEOUT = 2.0


@dataclass
class Figures:
    """Everything a scrape reports, as last measured. None = unknown (not yet, or failing)."""

    odoo_up: bool | None = None
    database_up: bool | None = None
    tenants: dict[str, tenant_scans.TenantScan] | None = None
    database_sizes: dict[str, int] = field(default_factory=dict)
    filestore_sizes: dict[str, int] = field(default_factory=dict)
    connections: dict[str, int] | None = None
    sessions: int | None = None
    tree: process.TreeSample | None = None
    memory_limit: int | None = None
    backups: dict[str, backup_status.BackupStatus] = field(default_factory=dict)
    backup_disk: backups.DiskUsage | None = None
    backup_period: float | None = None
    spares_ready: int | None = None
    # the catalog's word on each tenant (suspended, plan limits); None: not read (yet)
    catalog: dict[str, Routing] | None = None
    slow_refreshed_at: float | None = None
    slow_duration: float | None = None


class Refresher:
    """Owns the Figures; loops write fresh values, scrapes read a copy under the lock."""

    def __init__(self, settings: Settings, *, fast_interval: float | None = None) -> None:
        self.settings = settings
        self.slow_interval = float(settings.metrics_refresh_seconds)
        self.fast_interval = fast_interval or min(FAST_INTERVAL, self.slow_interval)
        self._snap = Figures(backup_period=backups.schedule_period_seconds(settings))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._tree = process.TreeMonitor(settings)
        self._failing: dict[str, str] = {}
        self._scanner = tenant_scans.TenantScanner(settings)

    # --- reading --------------------------------------------------------------------------
    def snapshot(self) -> Figures:
        with self._lock:
            return copy.copy(self._snap)

    def _set(self, **values: object) -> None:
        with self._lock:
            for key, value in values.items():
                setattr(self._snap, key, value)

    # --- error bookkeeping: one log line when a source breaks, one when it recovers ---------
    def _attempt(self, source: str, func: Callable[[], object]) -> object | None:
        try:
            result = func()
        except (SaasError, StoreError, OSError, psycopg2.Error) as exc:
            message = first_line(exc)
            if self._failing.get(source) != message:
                log.warning("%s: %s", source, message)
            self._failing[source] = message
            return None
        except Exception:
            # a bug in one source must not end the exporter: say it loudly, keep serving
            log.exception("%s failed", source)
            self._failing[source] = "exception"
            return None
        if self._failing.pop(source, None) is not None:
            log.info("%s: recovered", source)
        return result

    # --- the two refreshes ------------------------------------------------------------------
    def refresh_fast(self) -> None:
        s = self.settings
        if s.runs_odoo:  # this pod's Odoo: health and its process tree
            health = web.web_health(s, timeout=HEALTH_TIMEOUT)
            self._set(
                odoo_up=health.ok, tree=self._tree.sample(), memory_limit=resources.memory_limit()
            )
        if not s.metrics_pool:
            return
        tenants = self.snapshot().tenants
        names = sorted(tenants) if tenants else []
        counts = self._attempt("PostgreSQL", lambda: database.connection_counts(s, names))
        self._set(database_up=counts is not None, connections=counts)
        self._set(
            backups=backup_status.read_statuses(s),
            backup_disk=backups.backup_disk(s),
        )

    def refresh_slow(self) -> None:
        s = self.settings
        if not s.metrics_pool:  # per-tenant figures come from the pool's exporter
            return
        started = time.monotonic()
        candidates = self._attempt("tenant scan", self._scanner.candidates)
        tenants, sizes = None, None
        if candidates is not None:
            # Database sizes are mostly the disk's work, the scans mostly PostgreSQL's CPU: side
            # by side they take about the time of the longer (500 tenants, cold caches: the
            # sizes alone take 0.9 s). Filestores are walked after, only for the tenants.
            with ThreadPoolExecutor(1) as pool:
                sizing = pool.submit(
                    self._attempt, "database sizes", lambda: database.database_sizes(s, candidates)
                )
                tenants = self._attempt("tenant scan", lambda: self._scanner.scan(candidates))
                sizes = sizing.result()
        if tenants is not None:
            if sizes is None:  # keep what we knew, for the tenants still there
                sizes = self.snapshot().database_sizes
            paths = {name: filestore.listed_path(s, name) for name in tenants}
            self._set(
                tenants=tenants,
                database_sizes={name: sizes[name] for name in tenants if name in sizes},
                filestore_sizes={
                    name: filestore.size(path) for name, path in paths.items() if path
                },
            )
        catalog = self._attempt("catalog", lambda: listing.catalog_routing(s))
        if catalog is not None:  # unreadable: what it said last stands
            self._set(catalog=catalog)
        if s.provision_spares:
            ready = self._attempt("spare tenants", lambda: len(spares.ready(s)))
            self._set(spares_ready=ready)
        sessions = self._attempt("session count", lambda: count_sessions(s))
        self._set(sessions=sessions, slow_duration=time.monotonic() - started)
        if tenants is not None:
            self._set(slow_refreshed_at=time.time())

    # --- threads ----------------------------------------------------------------------------
    def _loop(self, name: str, func: Callable[[], None], interval: float) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                func()
            except Exception:
                log.exception("%s refresh failed", name)
            self._stop.wait(max(0.0, interval - (time.monotonic() - started)))

    def start(self) -> None:
        for name, func, interval in (
            ("fast", self.refresh_fast, self.fast_interval),
            ("slow", self.refresh_slow, self.slow_interval),
        ):
            thread = threading.Thread(
                target=self._loop, args=(name, func, interval), name=f"metrics-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 1.0) -> None:
        """Ask the loops to end; daemon threads still inside a slow query die with the process."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
