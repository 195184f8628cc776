"""Databases made the way odoo-saas makes them, for tests that build fake tenants by hand."""

from __future__ import annotations

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import copies, databases, roles
from odoo_saas_tools.postgres.connection import connect


def new_database(settings: Settings, name: str, *, template: str | None = None) -> None:
    """Owned by the management role, with a role of its own (the one every connection to it
    then logs in as); a copy of template when given."""
    if template:
        copies.copy_by_template(settings, template, name)
    else:
        databases.create_database(settings, name)


def give_roles(settings: Settings, names: list[str]) -> None:
    """Roles for databases a test made in bulk as the superuser (OWNER the management role),
    in one transaction: their objects stay the template's role's, so the template must grant
    what the test reads to PUBLIC."""
    with connect(settings) as conn, conn.cursor() as cr:
        conn.autocommit = False
        for name in names:
            roles.give(cr, settings, name)
        conn.commit()
