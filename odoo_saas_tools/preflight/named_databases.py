"""ODOO_DB_NAME's databases exist before Odoo starts.

Odoo creates each database named in db_name at start, as its own role. odoo-saas takes that
right away from Odoo's role (docs/security.md: a tenant's SQL runs with it), so a missing one is
made here instead, as `odoo-saas db create` makes a tenant: from the template cache, with its
own role and identity and a generated admin password (Odoo's own would be admin/admin). The
password goes to a 0600 file of the runtime directory, never to the log.
"""

from __future__ import annotations

from pathlib import Path

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.files import atomic_write
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.preflight.findings import ERROR, OK, Report
from odoo_saas_tools.tenants import create
from odoo_saas_tools.tenants.setup import Setup

CHECK = "databases"


def password_file(settings: Settings, name: str) -> Path:
    return settings.runtime_dir / f"{name}.admin-password"


def ensure(settings: Settings, report: Report, *, fix: bool) -> None:
    for name in settings.db_name:
        if databases.exists(settings, name):
            continue
        if not (fix and settings.manages):
            report.add(
                CHECK,
                name,
                ERROR,
                f"ODOO_DB_NAME names {name}, which does not exist, and Odoo's role may not "
                "create it: start the `all` role with ODOO_SAAS_DB_PASSWORD, or run "
                f"`odoo-saas db create {name}`",
            )
            continue
        try:
            made = create.create(settings, name, create.spare_spec(settings), Setup())
        except SaasError as exc:
            report.add(CHECK, name, ERROR, f"ODOO_DB_NAME {name} could not be created: {exc}")
            continue
        path = password_file(settings, name)
        atomic_write(path, made["admin_password"] + "\n", mode=0o600)
        report.add(
            CHECK,
            name,
            OK,
            f"created {name} (login admin, its password in {path}: read it, then change it)",
        )
