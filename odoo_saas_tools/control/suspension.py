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

from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.catalog.tenants import ACTIVE, SUSPENDED
from odoo_saas_tools.control import events
from odoo_saas_tools.control.targets import Target, resolve
from odoo_saas_tools.core.errors import ConfigError, SaasError, first_line
from odoo_saas_tools.core.settings import Settings

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
    """Suspend tenant name; `changed` is False when it already was (its reason is kept)."""
    return _set(settings, resolve(settings, name), SUSPENDED, check_reason(reason, required=True))


def resume(settings: Settings, name: str, reason: str = "") -> dict:
    """Serve tenant name again, as it was; `changed` is False when it was not suspended."""
    return _set(settings, resolve(settings, name), ACTIVE, check_reason(reason, required=False))


def _set(settings: Settings, target: Target, state: str, reason: str) -> dict:
    try:
        with store.session(settings) as cr:
            changed, row = set_state(cr, target, state, reason, cause="manual")
    except psycopg2.Error as exc:
        raise SaasError(f"the catalog refused the change: {first_line(exc)}") from exc
    return {
        "tenant": target.name,
        "database": target.database,
        "state": state,
        "reason": row.state_reason if not changed else (reason if state == SUSPENDED else ""),
        "changed": changed,
    }


def set_state(
    cr: psycopg2.extensions.cursor, target: Target, state: str, reason: str, *, cause: str
) -> tuple[bool, catalog_tenants.Tenant]:
    """The state change in the caller's transaction (the lifecycle loop's too): the row, the
    counter Odoo polls, the event. Returns (changed, the row before)."""
    row = catalog_tenants.ensure(cr, target.database)
    if row.state == state:
        return False, row
    catalog_tenants.set_state(cr, target.database, state, reason if state == SUSPENDED else "")
    store.bump(cr)
    kind = events.TENANT_SUSPENDED if state == SUSPENDED else events.TENANT_RESUMED
    events.emit(cr, kind, target.database, {"name": target.name, "reason": reason, "cause": cause})
    return True, row
