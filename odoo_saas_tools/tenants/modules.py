"""Modules of a live tenant: which are installed, and installing more (a plan change).

The install is Odoo's own (`odoo server -d DB -i ...` as a batch job beside the running server,
which sees the new modules through Odoo's registry signalling), under the tenant's lock so that
no backup, restore or drop runs meanwhile. Odoo exits 0 even when a module did not install: the
result is read back from the database.
"""

from __future__ import annotations

import logging
import re

import psycopg2

from odoo_saas_tools.core.errors import ConfigError, SaasError, first_line
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.tenants.locks import tenant_lock

log = logging.getLogger(__name__)

MODULE_NAME = re.compile(r"[a-zA-Z0-9_]+")
INSTALL_TIMEOUT = 3600  # seconds: a big application on a big database


def installed(settings: Settings, db: str, names: list[str]) -> set[str]:
    """Those of names that are installed in db."""
    try:
        with connect(settings, db) as conn, conn.cursor() as cr:
            cr.execute("SELECT to_regclass('ir_module_module') IS NOT NULL")
            if not cr.fetchone()[0]:
                raise SaasError(f"{db} is not an Odoo database: no modules to install into")
            cr.execute(
                "SELECT name FROM ir_module_module WHERE name = ANY(%s) AND state = 'installed'",
                (names,),
            )
            return {row[0] for row in cr.fetchall()}
    except psycopg2.Error as exc:
        raise SaasError(f"reading {db}'s modules failed: {first_line(exc)}") from exc


def install_missing(settings: Settings, db: str, modules: list[str]) -> list[str]:
    """Install those of modules db lacks (and their dependencies); the ones installed now."""
    for module in modules:
        if not MODULE_NAME.fullmatch(module):
            raise ConfigError(f"{module!r} is not a module name")
    wanted = sorted(set(modules))
    if not wanted:
        return []
    with tenant_lock(settings, db, operation="module install") as lock:
        missing = sorted(set(wanted) - installed(settings, db, wanted))
        if not missing:
            return []
        log.info("%s: installing %s", db, ", ".join(missing))
        from odoo_saas_tools.odoo import runner  # only for an install (start-up cost)

        lock.ensure_held("module install")
        try:
            runner.server_job(settings, db, ["-i", ",".join(missing)], timeout=INSTALL_TIMEOUT)
        except SaasError as exc:
            raise SaasError(f"installing {', '.join(missing)} into {db} failed: {exc}") from exc
        still = sorted(set(missing) - installed(settings, db, missing))
        if still:
            raise SaasError(f"Odoo did not install {', '.join(still)} into {db}: see Odoo's log")
    return missing
