"""Unit tier: the exporter's table of families (observability/metrics/collector.py) on made-up
snapshots. Pure code: no scrape, no service (the figures against real sources:
tests/metrics/test_values.py)."""

from __future__ import annotations

from odoo_saas_tools.backups.status import BackupStatus
from odoo_saas_tools.catalog.tenants import Routing
from odoo_saas_tools.observability.metrics.backups import DiskUsage
from odoo_saas_tools.observability.metrics.collector import FAMILIES, families
from odoo_saas_tools.observability.metrics.process import TreeSample
from odoo_saas_tools.observability.metrics.refresher import Figures
from odoo_saas_tools.observability.metrics.tenant_scans import TenantScan


def samples(snap: Figures) -> dict[str, list[tuple[dict[str, str], float]]]:
    return {family.name: [(s.labels, s.value) for s in family.samples] for family in families(snap)}


def full() -> Figures:
    return Figures(
        odoo_up=True,
        database_up=False,
        tenants={"b": TenantScan("19.0", 2), "a": TenantScan("19.0", 0, internal_users=3)},
        catalog={"a": Routing("suspended", "", 4, 100), "b": Routing("active", "", None, None)},
        database_sizes={"a": 10, "b": 20},
        filestore_sizes={"a": 5},
        connections={"b": 3},
        sessions=7,
        tree=TreeSample(True, 1, 100, 12.345, 4, {"http": 2, "cron": 1}),
        memory_limit=1000,
        backups={
            "a": BackupStatus("a", 100.0, None, 1.5, 99, 1, "verified", 7, 500),
            "b": BackupStatus("b", 200.0, 150.0, None, None, 0, "disabled", None, 600),
            "dropped": BackupStatus("dropped", 300.0, repository_size_bytes=700),
        },
        backup_disk=DiskUsage(total_bytes=1000, free_bytes=400),
        backup_period=3600.0,
        spares_ready=2,
        slow_refreshed_at=123.0,
        slow_duration=0.12345,
    )


def test_every_family_of_the_table_is_reported_once_in_table_order():
    names = [f.name for f in FAMILIES]
    assert len(names) == len(set(names))
    assert [f.name for f in families(full())] == names


def test_unknown_figures_leave_their_families_out_rather_than_report_zero():
    assert list(families(Figures())) == []
    stopped = samples(Figures(tree=TreeSample(running=False), memory_limit=0))
    assert stopped == {"odoo_process_running": [({}, 0.0)]}  # nothing measured of a dead tree


def test_per_tenant_families_cover_current_tenants_only_with_known_figures():
    got = samples(full())
    assert got["odoo_tenants"] == [({}, 2)]
    assert got["odoo_database_size_bytes"] == [({"database": "a"}, 10), ({"database": "b"}, 20)]
    assert got["odoo_filestore_size_bytes"] == [({"database": "a"}, 5)]
    assert got["odoo_active_connections"] == [({"database": "a"}, 0), ({"database": "b"}, 3)]
    assert got["odoo_backup_last_success_timestamp_seconds"] == [
        ({"database": "a"}, 100.0),
        ({"database": "b"}, 200.0),
    ]  # a dropped tenant's status file is not reported
    assert got["odoo_backup_failures"] == [({"database": "a"}, 1), ({"database": "b"}, 0)]
    assert got["odoo_backup_offsite_ok"] == [({"database": "a"}, 1.0)]  # disabled: absent
    # the repository as the latest success of a current tenant saw it
    assert got["odoo_backup_repository_size_bytes"] == [({}, 600)]
    assert got["odoo_worker_processes"] == [({"kind": "cron"}, 1), ({"kind": "http"}, 2)]
    assert got["odoo_cpu_usage_percent"] == [({}, 12.35)]
    assert got["odoo_metrics_refresh_duration_seconds"] == [({}, 0.123)]
    assert got["odoo_tenant_internal_users"] == [({"database": "a"}, 3)]
    assert got["odoo_tenant_suspended"] == [({"database": "a"}, 1.0), ({"database": "b"}, 0.0)]
    assert got["odoo_tenant_quota_ratio"] == [
        ({"tenant": "a", "resource": "storage"}, round(15 / (100 * 1024 * 1024), 4)),
        ({"tenant": "a", "resource": "users"}, 0.75),
    ]
