"""Loading SQL that may come from anyone, as a role that can harm nothing but its database.

A backup's SQL (dump.sql, a .sql.gz, a custom-format TOC) is loaded into a new scratch
database, and every connection of the load (ours, pg_restore's) logs in as that database's own
role (postgres/roles.py): it owns nothing else, may create no database or role, and SQL alone
cannot connect anywhere else (no psql runs it, so no \\connect). `ALTER DATABASE other
RENAME`, `DROP DATABASE other` or `ALTER ROLE other` fail for lack of rights, whatever the
syntax: this cannot be bypassed like a filter of statements could. What the SQL may do to its
own role (session defaults, its password) is undone when the scratch database is renamed into
place (roles.reset).

Restores of earlier versions loaded as throw-away `odoo_saas_load_*` roles; a killed one may
have left such a role behind, which `db sweep` drops.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from psycopg2 import sql

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.reserved import RESERVED_PREFIX
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases, roles
from odoo_saas_tools.postgres.connection import connect, ident

log = logging.getLogger(__name__)

ROLE_PREFIX = RESERVED_PREFIX + "load_"


@contextlib.contextmanager
def scratch_database(settings: Settings, name: str) -> Iterator[Settings]:
    """Create the empty database name, with Odoo's extensions made by its own role; yield the
    settings to load with (every connection to name logs in as name's role). After the load,
    whatever its SQL did to that role (its password, its session defaults) is undone before
    anything else logs in."""
    databases.create_database(settings, name)
    try:
        databases.prepare_like_odoo(settings, name)
    except SaasError as exc:
        databases.drop_quietly(settings, name)
        raise SaasError(
            f"cannot log in as the role of {name} ({exc}): PostgreSQL's pg_hba.conf must "
            "accept password logins for any role from here"
        ) from exc
    yield settings
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute("BEGIN")
        roles.reset(cr, settings, name)
        cr.execute("COMMIT")


def leftover_roles(settings: Settings) -> list[str]:
    """Loading roles whose restore was killed before it dropped them (swept)."""
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute("SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", (ROLE_PREFIX,))
        return [r for (r,) in cr.fetchall()]


def drop_role(settings: Settings, role: str) -> None:
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident(role)))
