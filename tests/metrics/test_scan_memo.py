"""A restarted exporter does not look into every tenant again: its scans are kept on the data
volume for as long as PostgreSQL's write counters live (a clean restart, not a crash)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.observability.metrics import tenant_scans
from tests.conftest import stack_environment
from tests.metrics.conftest import TenantFactory, passes_until, watch_looks
from tests.support.pg import PgCluster


def test_a_new_exporter_reuses_the_scans_while_the_counters_live(
    make_pg: Callable[[], PgCluster], tmp_path: Path, monkeypatch
) -> None:
    cluster = make_pg()
    with cluster.admin() as conn, conn.cursor() as cr:  # its ANALYZE would count as a write
        cr.execute("ALTER SYSTEM SET autovacuum = off")
        cr.execute("SELECT pg_reload_conf()")
    settings = Settings.from_env(stack_environment(cluster, tmp_path, ODOO_LOG_LEVEL="warn"))
    a = TenantFactory(settings).create("scans_a")
    TenantFactory(settings).sql(
        a, "INSERT INTO ir_cron (active, nextcall) VALUES (true, '2000-01-01')"
    )
    looked = watch_looks(monkeypatch)
    first = passes_until(tenant_scans.TenantScanner(settings), looked, a, False)
    assert a not in looked and first[a].cron_overdue == 1
    memo = tenant_scans.scans_path(settings)
    assert stat.S_IMODE(memo.stat().st_mode) == 0o600

    def new_exporter_looks() -> bool:
        looked.clear()
        scans = tenant_scans.TenantScanner(settings).scan()
        assert scans[a].version == "19.0.1.3" and scans[a].cron_overdue == 1
        return a in looked

    assert not new_exporter_looks()
    cluster.stop("fast")
    cluster.start()
    assert not new_exporter_looks()  # the counters, and so the scans, survived the restart

    cluster.stop("immediate")  # a crash: PostgreSQL discards its counters on recovery
    cluster.start()
    assert new_exporter_looks()
    assert not new_exporter_looks()  # and kept again, under the counters' new lifetime

    memo.write_text('{"lifetime": 3, "tenants": [')  # a damaged file is ignored, not fatal
    assert new_exporter_looks()

    with cluster.admin() as conn, conn.cursor() as cr:  # nothing counts: nothing is trusted
        cr.execute("ALTER SYSTEM SET track_counts = off")
        cr.execute("SELECT pg_reload_conf()")
    scanner = tenant_scans.TenantScanner(settings)
    for _ in range(2):
        looked.clear()
        scanner.scan()
        assert a in looked
