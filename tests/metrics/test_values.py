"""The exporter's figures against the real sources: PostgreSQL, the filestore, status files."""

from __future__ import annotations

import json
import os

import psycopg2
from prometheus_client import generate_latest

from odoo_saas_tools.backups import status as backup_status
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.observability.metrics.collector import make_registry
from odoo_saas_tools.observability.metrics.refresher import Refresher
from odoo_saas_tools.sessions.store import RedisSessions, generate_key
from tests.metrics.conftest import labelled, parse, passes_until, value, watch_looks
from tests.support.net import free_port


def measure(settings: Settings):
    refresher = Refresher(settings)
    refresher.refresh_slow()
    refresher.refresh_fast()
    return refresher, parse(generate_latest(make_registry(refresher)).decode())


def test_tenant_figures_match_their_sources(metrics_env, tenants, prefix, pg):
    settings = Settings.from_env(metrics_env)
    a, b = f"{prefix}_a", f"{prefix}_b"
    tenants.create(a)
    tenants.create(b)
    tenants.create(f"{prefix}_old", version="18.0.1.3")  # another major: not ours
    tenants.create(f"{prefix}_plain", version=None)  # not an Odoo database at all
    # a name no directory can have: its figures, but no filestore size (and no failed pass)
    odd = tenants.create(f"{prefix}_odd/name")
    tenants.sql(
        a,
        """
        CREATE TABLE payload AS
            SELECT g AS id, md5(g::text) AS txt FROM generate_series(1, 20000) g;
        INSERT INTO ir_cron (cron_name, active, nextcall) VALUES
            ('stuck 1', true, (now() AT TIME ZONE 'UTC') - interval '2 hours'),
            ('stuck 2', true, (now() AT TIME ZONE 'UTC') - interval '3 days'),
            ('disabled', false, (now() AT TIME ZONE 'UTC') - interval '3 days'),
            ('just queued', true, (now() AT TIME ZONE 'UTC') - interval '10 minutes'),
            ('future', true, (now() AT TIME ZONE 'UTC') + interval '1 hour');
        """,
    )
    # a's filestore: two attachments and a hard link (each link is the tenant's file)
    store = settings.filestore(a) / "ab"
    store.mkdir(parents=True)
    (store / "f1").write_bytes(b"x" * 1000)
    (store / "f2").write_bytes(b"y" * 5000)
    os.link(store / "f1", store / "f1-link")
    # backup status files: a good one, a garbled one, one of a tenant that no longer exists
    status_dir = settings.backup_dir / ".status"
    status_dir.mkdir()
    (status_dir / f"{a}.json").write_text(
        json.dumps(
            {
                "database": a,
                "last_success": 1_700_000_000.5,
                "last_failure": None,
                "last_error": None,
                "last_duration_seconds": 12.25,
                "last_size_bytes": 123456,
                "failures_total": 3,
                "last_file": "x.zip",
                "offsite": "verified",
            }
        )
    )
    (status_dir / f"{b}.json").write_text('{"database": "' + b + '", "last_succ')
    (status_dir / f"{prefix}_gone.json").write_text(
        json.dumps({"database": f"{prefix}_gone", "last_success": 1.0, "failures_total": 0})
    )

    held = psycopg2.connect(**settings.connect_kwargs(b))  # one client of b
    try:
        _, samples = measure(settings)
    finally:
        held.close()

    with pg.admin() as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT datname, pg_database_size(datname) FROM pg_database WHERE datname IN %s",
            ((a, b, odd),),
        )
        real_sizes = dict(cr.fetchall())

    assert value(samples, "odoo_tenants") == 3
    sizes = labelled(samples, "odoo_database_size_bytes")
    assert set(sizes) == {a, b, odd}
    for name in (a, b, odd):
        assert abs(sizes[name] - real_sizes[name]) <= 0.01 * real_sizes[name]
    assert sizes[a] > sizes[b] + 500_000  # the payload table is really counted
    assert labelled(samples, "odoo_filestore_size_bytes") == {a: 7000, b: 0}
    assert labelled(samples, "odoo_cron_overdue_jobs") == {a: 2, b: 0, odd: 0}
    assert labelled(samples, "odoo_active_connections") == {a: 0, b: 1, odd: 0}
    assert value(samples, "odoo_database_up") == 1
    assert value(samples, "odoo_up") == 0  # nothing listens on the test's Odoo port
    assert value(samples, "odoo_process_running") == 0
    assert value(samples, "odoo_memory_usage_bytes") is None  # no Odoo: no figure, not 0

    assert labelled(samples, "odoo_backup_last_success_timestamp_seconds") == {a: 1_700_000_000.5}
    assert labelled(samples, "odoo_backup_last_duration_seconds") == {a: 12.25}
    assert labelled(samples, "odoo_backup_last_size_bytes") == {a: 123456}
    assert labelled(samples, "odoo_backup_failures_total") == {a: 3}
    assert labelled(samples, "odoo_backup_offsite_ok") == {a: 1}
    disk = os.statvfs(settings.backup_dir)
    assert value(samples, "odoo_backup_disk_total_bytes") == disk.f_blocks * disk.f_frsize
    assert value(samples, "odoo_session_count") == 0


def test_dropped_tenant_disappears(metrics_env, tenants, prefix):
    settings = Settings.from_env(metrics_env)
    a, b = tenants.create(f"{prefix}_a"), tenants.create(f"{prefix}_b")
    refresher, samples = measure(settings)
    assert set(labelled(samples, "odoo_database_size_bytes")) == {a, b}
    tenants.drop(b)
    refresher.refresh_slow()
    refresher.refresh_fast()
    samples = parse(generate_latest(make_registry(refresher)).decode())
    assert value(samples, "odoo_tenants") == 1
    for name in (
        "odoo_database_size_bytes",
        "odoo_filestore_size_bytes",
        "odoo_cron_overdue_jobs",
        "odoo_active_connections",
    ):
        assert set(labelled(samples, name)) == {a}, name


def test_session_count_from_the_file_store(metrics_env, tenants, prefix):
    settings = Settings.from_env(metrics_env)
    key = "A" * 84  # Odoo 19's session keys: 84 url-safe characters
    for k in (key, "B" * 84):
        sub = settings.sessions_dir / k[:2]
        sub.mkdir(parents=True, exist_ok=True)
        (sub / k).write_text("{}")
    _, samples = measure(settings)
    assert value(samples, "odoo_session_count") == 2


def test_backup_period_follows_the_schedule(metrics_env):
    env = {**metrics_env, "ODOO_AUTO_BACKUP": "true", "BACKUP_SCHEDULE": "0 2 * * 1-5"}
    _, samples = measure(Settings.from_env(env))
    assert value(samples, "odoo_backup_period_seconds") == 72 * 3600  # Friday to Monday
    env["BACKUP_SCHEDULE"] = "*/30 * * * 1-5"  # frequent on weekdays: the weekend still counts
    _, samples = measure(Settings.from_env(env))
    assert value(samples, "odoo_backup_period_seconds") == 48.5 * 3600
    _, samples = measure(Settings.from_env(metrics_env))
    assert value(samples, "odoo_backup_period_seconds") is None  # no schedule, no period


def test_session_count_from_redis_and_redis_down(metrics_env, redis_server, prefix):
    env = {
        **metrics_env,
        "ODOO_ENABLE_REDIS": "true",
        "ODOO_REDIS_URL": redis_server.url,
        "ODOO_REDIS_PREFIX": f"{prefix}:session:",
    }
    store = RedisSessions.from_url(redis_server.url, f"{prefix}:session:")
    other = RedisSessions.from_url(redis_server.url, f"{prefix}:elsewhere:")
    try:
        for _ in range(3):
            store.store(generate_key(), {"db": "x"})
        other.store(generate_key(), {"db": "y"})  # another stack sharing the Redis
        _, samples = measure(Settings.from_env(env))
        assert value(samples, "odoo_session_count") == 3
    finally:
        for sid in list(store.scan_sids()):
            store.remove(sid)
        for sid in list(other.scan_sids()):
            other.remove(sid)
        store.close()
        other.close()
    env["ODOO_REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    _, samples = measure(Settings.from_env(env))
    assert value(samples, "odoo_session_count") is None  # unknown, not 0
    assert value(samples, "odoo_database_up") == 1  # the rest carries on


def test_tenant_refusing_connections_keeps_its_last_figures(metrics_env, tenants, prefix, pg):
    settings = Settings.from_env(metrics_env)
    a = tenants.create(f"{prefix}_a")
    tenants.sql(
        a,
        "INSERT INTO ir_cron (active, nextcall) VALUES (true, now() - interval '1 day')",
    )
    refresher, samples = measure(settings)
    assert labelled(samples, "odoo_cron_overdue_jobs") == {a: 1}
    with pg.admin() as conn, conn.cursor() as cr:  # the odoo role may no longer connect to a
        cr.execute(f'ALTER DATABASE "{a}" CONNECTION LIMIT 0')
    try:
        refresher.refresh_slow()
        samples = parse(generate_latest(make_registry(refresher)).decode())
        assert value(samples, "odoo_tenants") == 1
        assert labelled(samples, "odoo_cron_overdue_jobs") == {a: 1}
        assert a in labelled(samples, "odoo_database_size_bytes")
    finally:
        with pg.admin() as conn, conn.cursor() as cr:
            cr.execute(f'ALTER DATABASE "{a}" CONNECTION LIMIT -1')


def test_reads_what_the_backup_commands_write(metrics_env, tenants, prefix):
    """The status-file contract end to end: backup_status.record writes, the exporter reads."""
    settings = Settings.from_env(metrics_env)
    a, b = tenants.create(f"{prefix}_a"), tenants.create(f"{prefix}_b")
    record = backup_status.record
    record(settings, a, ok=True, offsite="verified", duration=4.5, size=2048, when=100.0)
    record(settings, a, ok=False, offsite="failed", error="disk full", when=200.0)
    record(settings, b, ok=True, offsite="disabled", duration=1.0, size=10, when=300.0)
    _, samples = measure(settings)
    assert labelled(samples, "odoo_backup_last_success_timestamp_seconds") == {a: 100.0, b: 300.0}
    assert labelled(samples, "odoo_backup_last_failure_timestamp_seconds") == {a: 200.0}
    assert labelled(samples, "odoo_backup_failures_total") == {a: 1, b: 0}
    assert labelled(samples, "odoo_backup_last_size_bytes") == {a: 2048, b: 10}
    assert labelled(samples, "odoo_backup_offsite_ok") == {a: 0}  # b: off-site disabled


def test_pool_and_pod_exporters_split_the_figures(metrics_env, tenants, prefix):
    """Per-tenant figures once for the pool (role metrics), process figures in each web pod."""
    tenants.create(f"{prefix}_a")
    _, pool = measure(Settings.from_env({**metrics_env, "ODOO_SAAS_ROLE": "metrics"}))
    assert value(pool, "odoo_tenants") == 1
    assert labelled(pool, "odoo_database_size_bytes")
    assert not [k for k in pool if k[0] == "odoo_process_running"]
    _, pod = measure(Settings.from_env({**metrics_env, "ODOO_SAAS_ROLE": "web"}))
    assert value(pod, "odoo_process_running") == 0  # no Odoo started here
    assert not [k for k in pod if k[0] in ("odoo_tenants", "odoo_database_size_bytes")]


def test_spare_tenants_are_counted_apart_from_tenants(metrics_env, tenants, prefix):
    """With PROVISION_SPARES, the ready spares are a figure of their own (an alert when a
    burst used them up), never tenants; without it the figure is absent."""
    from odoo_saas_tools.tenants.hidden import SPARE_PREFIX

    tenants.create(f"{prefix}_a")
    tenants.create(f"{SPARE_PREFIX}{'a' * 24}_{prefix[-8:]}")
    _, samples = measure(Settings.from_env({**metrics_env, "PROVISION_SPARES": "2"}))
    assert value(samples, "odoo_spare_tenants") == 1
    assert value(samples, "odoo_tenants") == 1
    _, samples = measure(Settings.from_env(metrics_env))
    assert value(samples, "odoo_spare_tenants") is None


def test_a_tenant_nobody_wrote_to_is_not_looked_into_again(
    metrics_env, tenants, prefix, monkeypatch
):
    """The background pass connects only to tenants whose write counter moved; the others keep
    their figures, the overdue actions counted again at the server's time."""
    from odoo_saas_tools.observability.metrics import tenant_scans

    settings = Settings.from_env(metrics_env)
    a = tenants.create(f"{prefix}_a")
    tenants.sql(
        a,
        "INSERT INTO ir_cron (active, nextcall) "
        "VALUES (true, (now() AT TIME ZONE 'UTC') - interval '30 minutes')",
    )
    looked = watch_looks(monkeypatch)
    scanner = tenant_scans.TenantScanner(settings)

    scans = passes_until(scanner, looked, a, False)
    assert a not in looked and scans[a].cron_overdue == 0  # 30 minutes late: not yet
    assert len(scans[a].cron_nextcalls) == 1
    assert scans[a].at(scans[a].cron_nextcalls[0] + 3601).cron_overdue == 1  # an hour later
    again = scanner.scan()
    assert a not in looked and again[a] == scans[a]

    tenants.sql(a, "UPDATE ir_cron SET nextcall = (now() AT TIME ZONE 'UTC') - interval '2 days'")
    after = passes_until(scanner, looked, a, True)
    assert a in looked and after[a].cron_overdue == 1
