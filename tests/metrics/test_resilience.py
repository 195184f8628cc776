"""PostgreSQL going away and coming back; 200 tenants still scrape fast."""

from __future__ import annotations

import time

from odoo_saas_tools.core.settings import Settings
from tests.metrics.conftest import TenantFactory, labelled, value
from tests.support.pg import MANAGER
from tests.support.tenants import give_roles


def test_survives_postgresql_going_away(make_pg, metrics_env, prefix, start_exporter):
    cluster = make_pg()
    env = {**metrics_env, **cluster.env()}
    factory = TenantFactory(Settings.from_env(env))
    tenant = factory.create(f"{prefix}_a")
    exporter = start_exporter(env)
    samples = exporter.wait_for(lambda s: value(s, "odoo_tenants") == 1)
    assert value(samples, "odoo_database_up") == 1
    size = labelled(samples, "odoo_database_size_bytes")[tenant]

    cluster.stop()
    samples = exporter.wait_for(lambda s: value(s, "odoo_database_up") == 0)
    # what cannot be measured keeps its last value or is left out; nothing is invented
    assert labelled(samples, "odoo_database_size_bytes") == {tenant: size}
    assert labelled(samples, "odoo_active_connections") == {}
    time.sleep(2.5)  # a few failed refreshes: the exporter must still be there
    assert exporter.proc.poll() is None
    assert value(exporter.scrape(), "odoo_database_up") == 0

    cluster.start()
    samples = exporter.wait_for(lambda s: value(s, "odoo_database_up") == 1)
    exporter.wait_for(lambda s: labelled(s, "odoo_active_connections") == {tenant: 0})
    log = exporter.stop()
    assert log.count("PostgreSQL: cannot connect") == 1, log  # said once, not every second
    assert "PostgreSQL: recovered" in log


def test_scrape_with_200_tenants_is_fast(make_pg, metrics_env, prefix, start_exporter):
    cluster = make_pg()  # thrown away whole: no 200 DROP DATABASE
    env = {**metrics_env, **cluster.env(), "ODOO_METRICS_REFRESH_SECONDS": "5"}
    factory = TenantFactory(Settings.from_env(env))
    template = factory.create(f"odoo_saas_{prefix}_tpl")  # reserved prefix: never a tenant
    factory.sql(template, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC")
    started = time.monotonic()
    names = [f"{prefix}_t{i:03d}" for i in range(200)]
    with cluster.admin() as conn, conn.cursor() as cr:
        for name in names:
            cr.execute(
                f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY OWNER {MANAGER}'
            )
    give_roles(factory.settings, names)
    created = time.monotonic() - started

    exporter = start_exporter(env)
    # the pass that counted them has ended: its duration is set after the tenants' figures
    samples = exporter.wait_for(
        lambda s: (
            value(s, "odoo_tenants") == 200
            and value(s, "odoo_metrics_refresh_duration_seconds") is not None
        ),
        timeout=60,
    )
    refresh = value(samples, "odoo_metrics_refresh_duration_seconds")
    assert len(labelled(samples, "odoo_database_size_bytes")) == 200
    assert len(labelled(samples, "odoo_cron_overdue_jobs")) == 200
    timings = []
    for _ in range(10):
        t0 = time.perf_counter()
        samples = exporter.scrape()
        timings.append(time.perf_counter() - t0)
    assert len(labelled(samples, "odoo_filestore_size_bytes")) == 200
    print(
        f"\n200 tenants: created in {created:.1f} s, background refresh {refresh:.2f} s, "
        f"scrape max {max(timings) * 1000:.0f} ms, median {sorted(timings)[5] * 1000:.0f} ms"
    )
    assert max(timings) < 0.3, timings
