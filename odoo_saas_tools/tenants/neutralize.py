"""Neutralize a database (no e-mails, crons, webhooks, payments ...) without starting Odoo.

Odoo's `neutralize` only runs the `data/neutralize.sql` of every installed module, in the order
its query returns them, in one transaction; doing the same over psycopg2 saves Odoo's start-up
and gives exactly its result (the test compares with `odoo neutralize --stdout`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg2
import psycopg2.extensions

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo import modules as odoo_addons
from odoo_saas_tools.postgres.connection import connect

log = logging.getLogger(__name__)

# Odoo's own query (odoo/modules/neutralize.py), unordered on purpose: same order as Odoo.
INSTALLED = """
        SELECT name
          FROM ir_module_module
         WHERE state IN ('installed', 'to upgrade', 'to remove');
"""


def installed_modules(cr: psycopg2.extensions.cursor) -> list[str]:
    cr.execute(INSTALLED)
    return [row[0] for row in cr.fetchall()]


def queries(paths: tuple[Path, ...], modules: list[str]) -> list[tuple[str, str]]:
    """(module, SQL) of every module that ships data/neutralize.sql, in the given order."""
    out = []
    for module in modules:
        directory = odoo_addons.module_dir(paths, module)
        if directory is None:
            continue
        sql_file = directory / "data" / "neutralize.sql"
        if sql_file.is_file():
            out.append((module, sql_file.read_text().strip()))
    return out


def neutralize(settings: Settings, db: str) -> list[str]:
    """Neutralize db in one transaction of its own; returns the modules whose SQL ran."""
    with connect(settings, db, autocommit=False) as conn:
        with conn.cursor() as cr:
            modules = neutralize_on(cr, settings, db)
        conn.commit()
    return modules


def neutralize_on(cr: psycopg2.extensions.cursor, settings: Settings, db: str) -> list[str]:
    """Neutralize db on the caller's transaction (the caller commits, or rolls it back with the
    rest of its work: a clone's new identity); returns the modules whose SQL ran."""
    todo = queries(odoo_addons.odoo_install(settings).paths, installed_modules(cr))
    for module, query in todo:
        try:
            cr.execute(query)
        except psycopg2.Error as exc:
            first = str(exc).strip().splitlines()[0]
            raise SaasError(
                f"neutralizing {db} failed in {module}/data/neutralize.sql: {first}"
            ) from exc
    log.info("neutralized %s (%d modules)", db, len(todo))
    return [module for module, _ in todo]
