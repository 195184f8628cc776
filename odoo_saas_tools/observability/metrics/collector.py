"""The Prometheus collector: fresh metric families from the Figures at every scrape.

Families are built anew each time (no long-lived Gauge objects), so a dropped tenant's series
disappear with the next refresh instead of lingering with their last value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from odoo_saas_tools.backups.status import BackupStatus
from odoo_saas_tools.observability.metrics import process
from odoo_saas_tools.observability.metrics.refresher import Figures, Refresher

DB = ("database",)
OFFSITE_OK = {"verified": 1.0, "failed": 0.0}
MB = 1024 * 1024

# One family's samples: (label values, value). None leaves the family out of the scrape.
Samples = list[tuple[list[str], float]]


@dataclass(frozen=True)
class Family:
    """One row of the table: a metric's name, its help, and where its value comes from."""

    name: str
    help: str
    samples: Callable[[Figures], Samples | None]
    labels: tuple[str, ...] = ()
    counter: bool = False

    def build(self, snap: Figures) -> Metric | None:
        samples = self.samples(snap)
        if samples is None:
            return None
        kind = CounterMetricFamily if self.counter else GaugeMetricFamily
        family = kind(self.name, self.help, labels=list(self.labels))
        for labels, value in samples:
            family.add_metric(labels, value)
        return family


def one(value: Callable[[Figures], float | None]) -> Callable[[Figures], Samples | None]:
    """An unlabelled family, left out while its figure is unknown (None)."""

    def samples(snap: Figures) -> Samples | None:
        found = value(snap)
        return None if found is None else [([], found)]

    return samples


def per_tenant(
    value: Callable[[Figures, str], float | None],
    known: Callable[[Figures], bool] = lambda snap: True,
) -> Callable[[Figures], Samples | None]:
    """A family labelled by database: one sample per current tenant whose figure is known.
    Left out while the tenant list (or the figure as a whole: known) is unknown."""

    def samples(snap: Figures) -> Samples | None:
        if snap.tenants is None or not known(snap):
            return None
        return [
            ([name], v) for name in sorted(snap.tenants) if (v := value(snap, name)) is not None
        ]

    return samples


def backup(value: Callable[[BackupStatus], float | None]) -> Callable[[Figures], Samples | None]:
    """Backup figures of current tenants only: a dropped tenant's status file is not a worry."""

    def of(snap: Figures, name: str) -> float | None:
        status = snap.backups.get(name)
        return None if status is None else value(status)

    return per_tenant(of)


def _repository_size(snap: Figures) -> Samples | None:
    """The restic repository's size as the latest successful backup of a tenant saw it."""
    if snap.tenants is None:
        return None
    latest: tuple[float, int] | None = None
    for name in sorted(snap.tenants):
        status = snap.backups.get(name)
        if status is None or status.repository_size_bytes is None:
            continue
        when = status.last_success or 0.0
        if latest is None or when >= latest[0]:
            latest = (when, status.repository_size_bytes)
    return [] if latest is None else [([], latest[1])]


def _running(snap: Figures) -> process.TreeSample | None:
    return snap.tree if snap.tree is not None and snap.tree.running else None


def _workers(snap: Figures) -> Samples | None:
    tree = _running(snap)
    return None if tree is None else [([k], n) for k, n in sorted(tree.workers.items())]


def _flag(value: bool | None) -> float | None:
    return None if value is None else float(value)


def _suspended(snap: Figures, name: str) -> float:
    found = snap.catalog.get(name)  # type: ignore[union-attr]
    return float(found is not None and found.state == "suspended")


def _quota_ratios(snap: Figures) -> Samples | None:
    """The use of each plan limit (the catalog's, control.plans) per tenant and resource."""
    if snap.tenants is None or snap.catalog is None:
        return None
    out: Samples = []
    for name in sorted(snap.tenants):
        found = snap.catalog.get(name)
        if found is None:
            continue
        if found.max_storage_mb and name in snap.database_sizes:
            used = snap.database_sizes[name] + snap.filestore_sizes.get(name, 0)
            out.append(([name, "storage"], round(used / (found.max_storage_mb * MB), 4)))
        count = snap.tenants[name].internal_users
        if found.max_users and count is not None:
            out.append(([name, "users"], round(count / found.max_users, 4)))
    return out


# Every family, in the order a scrape lists them; a figure's None leaves its family out.
FAMILIES: tuple[Family, ...] = (
    Family("odoo_up", "1 when Odoo's /web/health answers pass.", one(lambda s: _flag(s.odoo_up))),
    Family(
        "odoo_database_up",
        "1 when PostgreSQL answers a query.",
        one(lambda s: _flag(s.database_up)),
    ),
    Family(
        "odoo_tenants",
        "Odoo 19 tenant databases served.",
        one(lambda s: None if s.tenants is None else len(s.tenants)),
    ),
    Family(
        "odoo_database_size_bytes",
        "pg_database_size of each tenant.",
        per_tenant(lambda s, db: s.database_sizes.get(db)),
        DB,
    ),
    Family(
        "odoo_filestore_size_bytes",
        "Bytes of each tenant's filestore.",
        per_tenant(lambda s, db: s.filestore_sizes.get(db)),
        DB,
    ),
    Family(
        "odoo_cron_overdue_jobs",
        "Active scheduled actions whose next call is more than an hour past.",
        per_tenant(lambda s, db: s.tenants[db].cron_overdue),  # type: ignore[index]
        DB,
    ),
    Family(
        "odoo_active_connections",
        "Client connections to each tenant database (pg_stat_activity).",
        per_tenant(lambda s, db: s.connections.get(db, 0), lambda s: s.connections is not None),  # type: ignore[union-attr]
        DB,
    ),
    Family(
        "odoo_backup_last_success_timestamp_seconds",
        "When the last backup succeeded.",
        backup(lambda b: b.last_success),
        DB,
    ),
    Family(
        "odoo_backup_last_failure_timestamp_seconds",
        "When the last backup failed.",
        backup(lambda b: b.last_failure),
        DB,
    ),
    Family(
        "odoo_backup_last_duration_seconds",
        "How long the last backup took.",
        backup(lambda b: b.last_duration_seconds),
        DB,
    ),
    Family(
        "odoo_backup_last_size_bytes",
        "Size of the last backup file.",
        backup(lambda b: b.last_size_bytes),
        DB,
    ),
    Family(
        "odoo_backup_failures",
        "Backups that failed, since the tenant's first.",
        backup(lambda b: b.failures_total),
        DB,
        counter=True,
    ),
    Family(
        "odoo_backup_offsite_ok",
        "1 when the last off-site copy was verified, 0 when it failed (absent: disabled).",
        backup(lambda b: OFFSITE_OK.get(b.offsite)),
        DB,
    ),
    Family(
        "odoo_backup_last_added_bytes",
        "Bytes the last backup added to the restic repository (BACKUP_OFFSITE=restic).",
        backup(lambda b: b.last_added_bytes),
        DB,
    ),
    Family(
        "odoo_backup_repository_size_bytes",
        "Size of the restic repository after the latest backup (BACKUP_OFFSITE=restic).",
        _repository_size,
    ),
    Family(
        "odoo_tenant_internal_users",
        "Active internal users of each tenant (what a plan's max_users counts).",
        per_tenant(lambda s, db: s.tenants[db].internal_users),  # type: ignore[index]
        DB,
    ),
    Family(
        "odoo_tenant_suspended",
        "1 when the tenant is suspended: its users get the 503 page, its crons wait.",
        per_tenant(_suspended, lambda s: s.catalog is not None),
        DB,
    ),
    Family(
        "odoo_tenant_quota_ratio",
        "Use of the tenant's plan limit, 1 = at the limit: storage (database + filestore over "
        "max_storage_mb), users (active internal users over max_users).",
        _quota_ratios,
        ("tenant", "resource"),
    ),
    Family(
        "odoo_spare_tenants",
        "Spare tenants ready for instant signups (PROVISION_SPARES wanted).",
        one(lambda s: s.spares_ready),
    ),
    Family("odoo_session_count", "HTTP sessions in the session store.", one(lambda s: s.sessions)),
    # the process tree: None where this exporter watches no Odoo (role metrics)
    Family(
        "odoo_process_running",
        "1 when Odoo's master process is alive.",
        one(lambda s: None if s.tree is None else float(s.tree.running)),
    ),
    Family(
        "odoo_memory_usage_bytes",
        "Resident memory of Odoo's whole process tree (master, workers, gevent).",
        one(lambda s: None if (t := _running(s)) is None else t.rss_bytes),
    ),
    Family(
        "odoo_cpu_usage_percent",
        "CPU use of Odoo's process tree since the previous sample; 100 = one core.",
        one(lambda s: None if (t := _running(s)) is None else round(t.cpu_percent, 2)),
    ),
    Family(
        "odoo_processes",
        "Processes in Odoo's tree, master included.",
        one(lambda s: None if (t := _running(s)) is None else t.processes),
    ),
    Family(
        "odoo_worker_processes",
        "Odoo's child processes by kind: http, cron, gevent (worker when untitled).",
        _workers,
        ("kind",),
    ),
    Family(
        "odoo_memory_limit_bytes",
        "Memory the container may use (cgroup limit, else physical memory).",
        one(lambda s: s.memory_limit or None),
    ),
    Family(
        "odoo_backup_disk_free_bytes",
        "Free space on the file system of BACKUP_DIR.",
        one(lambda s: None if s.backup_disk is None else s.backup_disk.free_bytes),
    ),
    Family(
        "odoo_backup_disk_total_bytes",
        "Size of the file system of BACKUP_DIR.",
        one(lambda s: None if s.backup_disk is None else s.backup_disk.total_bytes),
    ),
    Family(
        "odoo_backup_period_seconds",
        "Longest gap between two scheduled backups (BACKUP_SCHEDULE).",
        one(lambda s: s.backup_period),
    ),
    Family(
        "odoo_metrics_refresh_timestamp_seconds",
        "When tenant sizes were last measured.",
        one(lambda s: s.slow_refreshed_at),
    ),
    Family(
        "odoo_metrics_refresh_duration_seconds",
        "How long the last background measurement took.",
        one(lambda s: None if s.slow_duration is None else round(s.slow_duration, 3)),
    ),
)


def families(snap: Figures) -> Iterator[Metric]:
    """Every family of the table for one snapshot; unknown figures are left out rather than
    reported as 0."""
    for row in FAMILIES:
        family = row.build(snap)
        if family is not None:
            yield family


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
