"""Suspension (an unpaid invoice, abuse, a trial that ended): the tenant stays whole, Odoo stops
serving it.

Only the catalog changes: the tenant's state, the change counter Odoo's processes poll and the
event, in one transaction. Within 2 s every Odoo process answers the tenant's requests with
the hoster's 503 page and skips its scheduled actions (odoo_addons/odoo_saas_tenancy); its
database, files and sessions are not touched, backups go on, and a resume serves it again as
it was, its users still logged in. No tenant lock is taken: a suspension never waits for a
backup.
"""

from __future__ import annotations

import unicodedata

import psycopg2

from odoo_saas_tools.catalog import jobs as catalog_jobs
from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.catalog.tenants import ACTIVE, SUSPENDED
from odoo_saas_tools.control import events
from odoo_saas_tools.control.errors import Held, NotFound
from odoo_saas_tools.core.errors import ConfigError, SaasError, first_line
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants.identity import tenant_label

REASON_MAX = 500


def check_reason(reason: str, *, required: bool) -> str:
    """One line of printable text (it is recorded, sent in the event and may be shown to the
    tenant's users: ODOO_SAAS_SUSPENDED_MESSAGE's {reason})."""
    text = (reason or "").strip()
    if required and not text:
        raise ConfigError("the reason must not be empty: say why (it is kept and sent on)")
    if len(text) > REASON_MAX:
        raise ConfigError(f"the reason is longer than {REASON_MAX} characters")
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise ConfigError("the reason must be one line of printable text")
    return text


def suspend(settings: Settings, name: str, reason: str) -> dict:
    """Suspend the tenant whose database is name; `changed` is False when it already was (its
    first reason is kept)."""
    return _set(settings, name, SUSPENDED, check_reason(reason, required=True))


def resume(settings: Settings, name: str, reason: str = "") -> dict:
    """Serve the tenant whose database is name again, as it was; `changed` is False when it
    was not suspended."""
    return _set(settings, name, ACTIVE, check_reason(reason, required=False))


def _set(settings: Settings, db: str, state: str, reason: str) -> dict:
    try:
        with store.session(settings) as cr:
            if not catalog_tenants.database_exists(cr, db):
                raise NotFound(f"tenant {db} does not exist")
            job = catalog_jobs.holder(cr, db)  # one operation at a time per tenant
            if job is not None:
                raise Held(db, job.id)
            changed, row = set_state(settings, cr, db, state, reason, cause="manual")
    except psycopg2.Error as exc:
        raise SaasError(f"the catalog refused the change: {first_line(exc)}") from exc
    return {
        "tenant": tenant_label(settings, db),
        "database": db,
        "state": state,
        "reason": row.state_reason if not changed else (reason if state == SUSPENDED else ""),
        "changed": changed,
    }


def set_state(
    settings: Settings,
    cr: psycopg2.extensions.cursor,
    db: str,
    state: str,
    reason: str,
    *,
    cause: str,
) -> tuple[bool, catalog_tenants.Row]:
    """The state change in the caller's transaction (the lifecycle loop's too): the row, the
    counter Odoo polls, the event. Returns (changed, the row before)."""
    row = catalog_tenants.ensure(cr, db)
    if row.state == state:
        return False, row
    catalog_tenants.set_state(cr, db, state, reason if state == SUSPENDED else "")
    store.bump(cr)
    kind = events.TENANT_SUSPENDED if state == SUSPENDED else events.TENANT_RESUMED
    payload = {"name": tenant_label(settings, db), "reason": reason, "cause": cause}
    events.emit(cr, kind, db, payload)
    return True, row
