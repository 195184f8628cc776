"""The tenant a control operation names: its short name (as `tenant provision` and the API
take it) and its database (TENANT_DB_PREFIX + name: the catalog's, Odoo's and `db list`'s).
"""

from __future__ import annotations

from dataclasses import dataclass

from odoo_saas_tools.core.errors import EXIT_USAGE, SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants.identity import tenant_label
from odoo_saas_tools.tenants.provision import tenant_database


class UnknownTenant(SaasError):
    """No such tenant (the API answers 404)."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class Target:
    name: str
    database: str


def resolve(settings: Settings, name: str) -> Target:
    """name's tenant, which must exist; one line naming it (and its database) when not."""
    db = tenant_database(settings, name)
    row = databases.info(settings, db)
    if row is None or row.is_template or not row.owned:
        raise UnknownTenant(f"tenant {name} does not exist (no database {db})")
    return Target(name, db)


def of_database(settings: Settings, db: str) -> Target:
    """The tenant of database db (the lifecycle loop works from databases)."""
    return Target(tenant_label(settings, db), db)
