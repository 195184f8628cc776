"""What the catalog keeps about a tenant follows the tenant: a dropped tenant's row (plan,
suspension), custom domains and size history go with it (a later tenant of the same name starts
afresh, and must not inherit its customers' traffic and certificates), a renamed tenant keeps
them under its new name."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import psycopg2

from odoo_saas_tools.catalog import domains, sizes, store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.core.errors import SaasError, first_line
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)


def dropped(settings: Settings, name: str) -> None:
    """The tenant is gone already: a failure here is said, not raised."""
    try:
        with store.existing_session(settings) as cr:
            if cr is None:
                return  # no catalog yet: nothing in it to follow
            domains.forget_tenant(cr, name)
            sizes.forget_tenant(cr, name)
            catalog_tenants.delete(cr, name)
            store.bump(cr)
    except (SaasError, psycopg2.Error) as exc:
        log.error(
            "forgetting %s in the catalog failed: %s (its custom domains: `odoo-saas domain "
            "remove`)",
            name,
            first_line(exc),
        )


@contextlib.contextmanager
def renaming(settings: Settings, old: str, new: str) -> Iterator[None]:
    """The rows move in a transaction that commits only once the block (the database's and
    files' move) has: undone with them if they could not move."""
    with store.existing_session(settings) as cr:
        if cr is not None:
            catalog_tenants.rename(cr, old, new)
            domains.move_tenant(cr, old, new)
            sizes.move_tenant(cr, old, new)
            store.bump(cr)
        yield
