"""Plans: what a tenant is sold as. A tenant has one plan; the API accepts and validates `plan`
here, once.

File-less for now: one plan, `default`, with no limits and no modules. The plans file
(ODOO_SAAS_PLANS_FILE, YAML: modules, lang/country defaults, max_users, max_storage_mb,
trial_days), the modules a plan change installs and the limits inside Odoo are the suspension
work's (issue 28): it extends Plan, `available()` and `change()` without changing their callers.
"""

from __future__ import annotations

from dataclasses import dataclass

from odoo_saas_tools.catalog import jobs as catalog_jobs
from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.control.errors import Held, NotFound
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import Settings

DEFAULT = "default"


@dataclass(frozen=True)
class Plan:
    name: str
    modules: tuple[str, ...] = ()
    lang: str | None = None
    country: str | None = None
    max_users: int | None = None
    max_storage_mb: int | None = None
    trial_days: int | None = None


def available(settings: Settings) -> dict[str, Plan]:
    """Every plan by name (without a plans file: `default` alone)."""
    return {DEFAULT: Plan(DEFAULT)}


def get(settings: Settings, name: str | None) -> Plan:
    """The plan called name (None: `default`); ConfigError naming the plans there are."""
    plans = available(settings)
    plan = plans.get(name or DEFAULT)
    if plan is None:
        raise ConfigError(f"plan {name!r} is not one of: {', '.join(sorted(plans))}")
    return plan


def change(settings: Settings, db: str, plan: str) -> dict:
    """Put tenant database db on plan (validated first); the catalog row and Odoo's routing
    (bump) change together. Refused while a job is queued or running on db."""
    new = get(settings, plan)
    with store.session(settings) as cr:
        if not catalog_tenants.database_exists(cr, db):
            raise NotFound(f"tenant {db} does not exist")
        job = catalog_jobs.holder(cr, db)
        if job is not None:
            raise Held(db, job.id)
        old = catalog_tenants.ensure(cr, db, new.name)
        if old.plan != new.name:
            catalog_tenants.set_plan(cr, db, new.name)
            store.bump(cr)
    return {"database": db, "plan": new.name, "previous": old.plan, "changed": old.plan != new.name}
