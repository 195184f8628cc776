"""The exporter's plan figures (issue 28): active internal users, suspension and the use of
each plan limit, against the tenant's own rows and odoo-saas's catalog."""

from __future__ import annotations

from prometheus_client import generate_latest

from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.observability.metrics.collector import make_registry
from odoo_saas_tools.observability.metrics.refresher import Refresher
from tests.metrics.conftest import labelled, parse

MB = 1024 * 1024


def test_users_suspension_and_quota_ratios(metrics_env, tenants, prefix):
    settings = Settings.from_env(metrics_env)
    a, b, free = f"{prefix}_a", f"{prefix}_b", f"{prefix}_free"
    for name in (a, b, free):
        tenants.create(name)
    tenants.sql(
        a,
        """
        CREATE TABLE res_users (id serial PRIMARY KEY, login varchar, active boolean,
                                share boolean);
        INSERT INTO res_users (login, active, share) VALUES
            ('admin', true, false), ('ann', true, false), ('bob', true, false),
            ('gone', false, false), ('portal', true, true), ('public', false, true);
        """,
    )
    (settings.filestore(a) / "ab").mkdir(parents=True)
    (settings.filestore(a) / "ab" / "big").write_bytes(b"x" * MB)
    plan = f"{prefix}_plan"
    try:
        with store.session(settings) as cr:
            cr.execute(
                "INSERT INTO plan (name, max_users, max_storage_mb) VALUES (%s, 2, 100)", (plan,)
            )
            catalog_tenants.put_new(cr, a, plan, None)
            catalog_tenants.put_new(cr, b, plan, None)
            catalog_tenants.set_state(cr, b, "suspended", "unpaid")
        refresher = Refresher(settings)
        refresher.refresh_slow()
        samples = parse(generate_latest(make_registry(refresher)).decode())
        sizes = labelled(samples, "odoo_database_size_bytes")
    finally:
        with store.session(settings) as cr:
            for name in (a, b, free):
                catalog_tenants.delete(cr, name)
            cr.execute("DELETE FROM plan WHERE name = %s", (plan,))

    assert labelled(samples, "odoo_tenant_internal_users") == {a: 3}  # b, free: no res_users
    assert labelled(samples, "odoo_tenant_suspended") == {a: 0, b: 1, free: 0}
    ratios = {
        (dict(k[1])["tenant"], dict(k[1])["resource"]): v
        for k, v in samples.items()
        if k[0] == "odoo_tenant_quota_ratio"
    }
    assert ratios[(a, "users")] == 1.5
    assert abs(ratios[(a, "storage")] - (sizes[a] + MB) / (100 * MB)) < 1e-3
    assert abs(ratios[(b, "storage")] - sizes[b] / (100 * MB)) < 1e-3
    assert set(ratios) == {(a, "users"), (a, "storage"), (b, "storage")}  # free: no row, no plan
