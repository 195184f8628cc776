"""Provisioning: a new customer's tenant, named with TENANT_DB_PREFIX, set up for its owner."""

from __future__ import annotations

from odoo_saas_tools.catalog.tenants import NewTenant
from odoo_saas_tools.core.errors import EXIT_UNCHANGED, SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants import identity, template_cache
from odoo_saas_tools.tenants import setup as tenant_setup
from odoo_saas_tools.tenants.create import create
from odoo_saas_tools.tenants.names import check_name


def tenant_database(settings: Settings, name: str) -> str:
    """The database of tenant name; the bare name also appears in URLs, so it is checked alone."""
    check_name(name, what="tenant")
    return check_name(settings.tenant_db_prefix + name, settings, what="tenant database")


def provision(
    settings: Settings,
    db: str,
    spec: template_cache.Spec,
    setup: tenant_setup.Setup,
    *,
    rebuild_template: bool = False,
    entry: NewTenant | None = None,
) -> dict:
    """Create db (from tenant_database) with its setup; `created` is False when it existed.
    entry: its plan and trial (control.plans.provision resolves them from the plans file)."""
    if setup.tz:
        tenant_setup.check_tz(setup.tz)
    url = identity.default_base_url(settings, db) if settings.tenant_url_template else None
    try:
        result = create(
            settings,
            db,
            spec,
            setup,
            base_url=url,
            rebuild_template=rebuild_template,
            operation="provisioning",
            entry=entry,
        )
    except SaasError as exc:
        if exc.exit_code == EXIT_UNCHANGED:
            return {"database": db, "url": url, "created": False}
        raise
    return {**result, "created": True}
