"""Suspending a tenant (unpaid invoice, abuse) and bringing it back, as the catalog records it.

Minimal for now: the catalog's state and reason, and the change counter Odoo's routing polls.
The Odoo side (the 503 page, crons skipped), the webhooks and the trials that end are the
suspension work's (issue 28): it completes these two functions without changing their callers.
"""

from __future__ import annotations

from odoo_saas_tools.catalog import jobs as catalog_jobs
from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.control.errors import Held, NotFound
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import Settings

MAX_REASON = 500


def check_reason(reason: str) -> str:
    """One line of printable text: it is shown to the tenant's users."""
    if len(reason) > MAX_REASON or any(ord(c) < 32 or ord(c) == 127 for c in reason):
        raise ConfigError(f"reason must be one line of at most {MAX_REASON} printable characters")
    return reason.strip()


def suspend(settings: Settings, db: str, reason: str) -> dict:
    """Tenant database db suspended with reason; `changed` False when it already was."""
    return _set_state(settings, db, "suspended", check_reason(reason))


def resume(settings: Settings, db: str, reason: str = "") -> dict:
    """Tenant database db active again; `changed` False when it was not suspended."""
    return _set_state(settings, db, "active", check_reason(reason))


def _set_state(settings: Settings, db: str, state: str, reason: str) -> dict:
    with store.session(settings) as cr:
        if not catalog_tenants.database_exists(cr, db):
            raise NotFound(f"tenant {db} does not exist")
        job = catalog_jobs.holder(cr, db)
        if job is not None:
            raise Held(db, job.id)
        row = catalog_tenants.ensure(cr, db)
        changed = row.state != state
        if changed or row.state_reason != reason:
            catalog_tenants.set_state(cr, db, state, reason)
            store.bump(cr)
    return {"database": db, "state": state, "reason": reason, "changed": changed}
