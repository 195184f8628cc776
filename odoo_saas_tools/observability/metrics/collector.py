"""The Prometheus collector: fresh metric families from the Figures at every scrape.

Families are built anew each time (no long-lived Gauge objects), so a dropped tenant's series
disappear with the next refresh instead of lingering with their last value.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from odoo_saas_tools.observability.metrics.refresher import Figures, Refresher

DB = ["database"]
OFFSITE_OK = {"verified": 1.0, "failed": 0.0}
MB = 1024 * 1024


def _gauge(
    name: str, doc: str, value: float | None = None, labels: list[str] | None = None
) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value, labels=labels)


def families(snap: Figures) -> Iterator[Metric]:
    """Every family for one snapshot; unknown figures are left out rather than reported as 0."""
    if snap.odoo_up is not None:
        yield _gauge("odoo_up", "1 when Odoo's /web/health answers pass.", float(snap.odoo_up))
    if snap.database_up is not None:
        yield _gauge(
            "odoo_database_up", "1 when PostgreSQL answers a query.", float(snap.database_up)
        )

    tenants = sorted(snap.tenants) if snap.tenants is not None else None
    if tenants is not None:
        yield _gauge("odoo_tenants", "Odoo 19 tenant databases served.", len(tenants))
        size = _gauge("odoo_database_size_bytes", "pg_database_size of each tenant.", labels=DB)
        store = _gauge("odoo_filestore_size_bytes", "Bytes of each tenant's filestore.", labels=DB)
        cron = _gauge(
            "odoo_cron_overdue_jobs",
            "Active scheduled actions whose next call is more than an hour past.",
            labels=DB,
        )
        for name in tenants:
            if name in snap.database_sizes:
                size.add_metric([name], snap.database_sizes[name])
            if name in snap.filestore_sizes:
                store.add_metric([name], snap.filestore_sizes[name])
            cron.add_metric([name], snap.tenants[name].cron_overdue)  # type: ignore[index]
        yield from (size, store, cron)
        if snap.connections is not None:
            conns = _gauge(
                "odoo_active_connections",
                "Client connections to each tenant database (pg_stat_activity).",
                labels=DB,
            )
            for name in tenants:
                conns.add_metric([name], snap.connections.get(name, 0))
            yield conns
        yield from _backup_families(snap, tenants)
        yield from _plan_families(snap, tenants)

    if snap.spares_ready is not None:
        yield _gauge(
            "odoo_spare_tenants",
            "Spare tenants ready for instant signups (PROVISION_SPARES wanted).",
            snap.spares_ready,
        )

    if snap.sessions is not None:
        yield _gauge("odoo_session_count", "HTTP sessions in the session store.", snap.sessions)

    tree = snap.tree  # None where this exporter watches no Odoo (role metrics)
    if tree is not None:
        yield _gauge(
            "odoo_process_running", "1 when Odoo's master process is alive.", float(tree.running)
        )
        if tree.running:
            yield _gauge(
                "odoo_memory_usage_bytes",
                "Resident memory of Odoo's whole process tree (master, workers, gevent).",
                tree.rss_bytes,
            )
            yield _gauge(
                "odoo_cpu_usage_percent",
                "CPU use of Odoo's process tree since the previous sample; 100 = one core.",
                round(tree.cpu_percent, 2),
            )
            yield _gauge(
                "odoo_processes", "Processes in Odoo's tree, master included.", tree.processes
            )
            workers = _gauge(
                "odoo_worker_processes",
                "Odoo's child processes by kind: http, cron, gevent (worker when untitled).",
                labels=["kind"],
            )
            for kind, count in sorted(tree.workers.items()):
                workers.add_metric([kind], count)
            yield workers
    if snap.memory_limit:
        yield _gauge(
            "odoo_memory_limit_bytes",
            "Memory the container may use (cgroup limit, else physical memory).",
            snap.memory_limit,
        )

    if snap.backup_disk is not None:
        yield _gauge(
            "odoo_backup_disk_free_bytes",
            "Free space on the file system of BACKUP_DIR.",
            snap.backup_disk.free_bytes,
        )
        yield _gauge(
            "odoo_backup_disk_total_bytes",
            "Size of the file system of BACKUP_DIR.",
            snap.backup_disk.total_bytes,
        )
    if snap.backup_period is not None:
        yield _gauge(
            "odoo_backup_period_seconds",
            "Longest gap between two scheduled backups (BACKUP_SCHEDULE).",
            snap.backup_period,
        )
    if snap.slow_refreshed_at is not None:
        yield _gauge(
            "odoo_metrics_refresh_timestamp_seconds",
            "When tenant sizes were last measured.",
            snap.slow_refreshed_at,
        )
    if snap.slow_duration is not None:
        yield _gauge(
            "odoo_metrics_refresh_duration_seconds",
            "How long the last background measurement took.",
            round(snap.slow_duration, 3),
        )


def _plan_families(snap: Figures, tenants: list[str]) -> Iterator[Metric]:
    """Users, suspension and the use of each plan limit (the catalog's, control.plans)."""
    users = _gauge(
        "odoo_tenant_internal_users",
        "Active internal users of each tenant (what a plan's max_users counts).",
        labels=DB,
    )
    for name in tenants:
        count = snap.tenants[name].internal_users  # type: ignore[index]
        if count is not None:
            users.add_metric([name], count)
    yield users
    if snap.catalog is None:
        return
    suspended = _gauge(
        "odoo_tenant_suspended",
        "1 when the tenant is suspended: its users get the 503 page, its crons wait.",
        labels=DB,
    )
    ratio = _gauge(
        "odoo_tenant_quota_ratio",
        "Use of the tenant's plan limit, 1 = at the limit: storage (database + filestore over "
        "max_storage_mb), users (active internal users over max_users).",
        labels=["tenant", "resource"],
    )
    for name in tenants:
        found = snap.catalog.get(name)
        suspended.add_metric([name], float(found is not None and found.state == "suspended"))
        if found is None:
            continue
        if found.max_storage_mb and name in snap.database_sizes:
            used = snap.database_sizes[name] + snap.filestore_sizes.get(name, 0)
            ratio.add_metric([name, "storage"], round(used / (found.max_storage_mb * MB), 4))
        count = snap.tenants[name].internal_users  # type: ignore[index]
        if found.max_users and count is not None:
            ratio.add_metric([name, "users"], round(count / found.max_users, 4))
    yield from (suspended, ratio)


def _backup_families(snap: Figures, tenants: list[str]) -> Iterator[Metric]:
    """Backup figures of current tenants only: a dropped tenant's status file is not a worry."""
    success = _gauge(
        "odoo_backup_last_success_timestamp_seconds", "When the last backup succeeded.", labels=DB
    )
    failure = _gauge(
        "odoo_backup_last_failure_timestamp_seconds", "When the last backup failed.", labels=DB
    )
    duration = _gauge(
        "odoo_backup_last_duration_seconds", "How long the last backup took.", labels=DB
    )
    size = _gauge("odoo_backup_last_size_bytes", "Size of the last backup file.", labels=DB)
    failures = CounterMetricFamily(
        "odoo_backup_failures", "Backups that failed, since the tenant's first.", labels=DB
    )
    offsite = _gauge(
        "odoo_backup_offsite_ok",
        "1 when the last off-site copy was verified, 0 when it failed (absent: disabled).",
        labels=DB,
    )
    added = _gauge(
        "odoo_backup_last_added_bytes",
        "Bytes the last backup added to the restic repository (BACKUP_OFFSITE=restic).",
        labels=DB,
    )
    repository = _gauge(
        "odoo_backup_repository_size_bytes",
        "Size of the restic repository after the latest backup (BACKUP_OFFSITE=restic).",
    )
    latest: tuple[float, int] | None = None
    for name in tenants:
        status = snap.backups.get(name)
        if status is None:
            continue
        if status.last_added_bytes is not None:
            added.add_metric([name], status.last_added_bytes)
        if status.repository_size_bytes is not None:
            when = status.last_success or 0.0
            if latest is None or when >= latest[0]:
                latest = (when, status.repository_size_bytes)
        if status.last_success is not None:
            success.add_metric([name], status.last_success)
        if status.last_failure is not None:
            failure.add_metric([name], status.last_failure)
        if status.last_duration_seconds is not None:
            duration.add_metric([name], status.last_duration_seconds)
        if status.last_size_bytes is not None:
            size.add_metric([name], status.last_size_bytes)
        failures.add_metric([name], status.failures_total)
        if status.offsite in OFFSITE_OK:
            offsite.add_metric([name], OFFSITE_OK[status.offsite])
    if latest is not None:
        repository.add_metric([], latest[1])
    yield from (success, failure, duration, size, failures, offsite, added, repository)


class OdooCollector(Collector):
    """Reads the refresher's snapshot; a scrape costs no I/O."""

    def __init__(self, refresher: Refresher) -> None:
        self.refresher = refresher

    def collect(self) -> Iterator[Metric]:
        yield from families(self.refresher.snapshot())

    def describe(self) -> Iterator[Metric]:
        return iter(())  # families vary with the tenants; nothing to pre-register


def make_registry(refresher: Refresher) -> CollectorRegistry:
    """A registry with only our collector: the exporter's own process figures stay out."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OdooCollector(refresher))
    return registry
