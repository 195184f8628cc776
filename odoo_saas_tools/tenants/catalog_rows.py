"""What the catalog keeps about a tenant follows the tenant: a dropped tenant's custom domains
go with it (a later tenant of the same name must not inherit its customers' traffic and
certificates), a renamed tenant keeps them under its new name."""

from __future__ import annotations

import logging
from collections.abc import Callable

from odoo_saas_tools.catalog import domains, store
from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases

log = logging.getLogger(__name__)


def dropped(settings: Settings, name: str) -> None:
    _change(settings, f"forgetting {name}'s custom domains", domains.forget_tenant, name)


def renamed(settings: Settings, old: str, new: str) -> None:
    _change(settings, f"moving {old}'s custom domains to {new}", domains.move_tenant, old, new)


def _change(settings: Settings, what: str, change: Callable[..., int], *args: str) -> None:
    """The tenant's own change is made already: a failure here is said, not raised."""
    try:
        if not databases.exists(settings, store.NAME):
            return  # no catalog yet: nothing in it to follow
        with store.session(settings) as cr:
            if change(cr, *args):
                store.bump(cr)
    except SaasError as exc:
        log.error("%s failed: %s (run it again with `odoo-saas domain`)", what, exc)
