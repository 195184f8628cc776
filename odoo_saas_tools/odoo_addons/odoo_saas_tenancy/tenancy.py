"""Odoo logs in to each tenant database as that database's own role, and lists as its
databases those the management role owns.

Odoo 19 connects to every database as `db_user` and lists the databases that role owns
(odoo/service/db.py list_dbs). odoo-saas gives each database a role of its own instead, owning
only what is inside it (odoo_saas_tools/core/tenant_roles.py): a trigger or view a tenant
planted in its database then runs as that role, which can touch no other tenant, their
sessions or the server. Here `odoo.sql_db.connection_info_for` logs in as that role (its
password is derived from db_password, as odoo-saas derives it), connections to `postgres` stay
`db_user`'s, and `list_dbs` (used by the HTTP dispatcher's db_list and by the cron runner)
returns the databases owned by the management role, never odoo-saas's hidden `odoo_saas_*` ones.
"""

from __future__ import annotations

import configparser
import logging
from contextlib import closing
from types import ModuleType

import odoo
import odoo.service.db
import odoo.service.server
import odoo.sql_db
from odoo.tools import config

_logger = logging.getLogger(__name__)

SECTION = "odoo_saas"
SERVER_DATABASES = ("postgres",)
HIDDEN_PREFIX = "odoo_saas_"
CATALOG = HIDDEN_PREFIX + "catalog"  # odoo.conf's [odoo_saas] catalog says it too


def _load_tenant_roles() -> ModuleType:
    """odoo_saas_tools.core.tenant_roles (see loader)."""
    from .loader import load

    return load("core/tenant_roles.py")


def read_section() -> dict[str, str]:
    """The [odoo_saas] section of Odoo's configuration file (Odoo parses only [options])."""
    rcfile = config.get("config")
    parser = configparser.RawConfigParser()
    if rcfile:
        parser.read([rcfile])
    return dict(parser.items(SECTION)) if parser.has_section(SECTION) else {}


def install() -> None:
    roles = _load_tenant_roles()
    section = read_section()
    owner = section.get("owner", "").strip()
    catalog = section.get("catalog", "").strip() or CATALOG
    server_databases = (*SERVER_DATABASES, catalog)  # read as db_user, never a tenant role
    if not owner:
        _logger.error(
            "odoo_saas_tenancy is loaded but [%s] owner is missing in %s: no database is listed",
            SECTION,
            config.get("config"),
        )
    original = odoo.sql_db.connection_info_for
    passwords: dict[str, str] = {}

    def connection_info_for(db_or_uri: str, readonly: bool = False) -> tuple[str, dict]:
        db_name, info = original(db_or_uri, readonly)
        if "dsn" in info or db_name in server_databases:
            return db_name, info
        role = roles.role_for(db_name)
        key = config["db_password"] or ""
        if role not in passwords:
            passwords[role] = roles.password_for(key, role)
        return db_name, {**info, "user": role, "password": passwords[role]}

    def list_dbs(force: bool = False) -> list[str]:
        if not config["list_db"] and not force:
            raise odoo.exceptions.AccessDenied()
        if not config["dbfilter"] and config["db_name"]:
            return sorted(config["db_name"])
        if not owner:
            return []
        db = odoo.sql_db.db_connect("postgres")
        with closing(db.cursor()) as cr:
            try:
                cr.execute(
                    "SELECT d.datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "
                    "WHERE r.rolname = %s AND NOT d.datistemplate AND d.datallowconn "
                    "AND d.datname NOT IN ('postgres', %s) AND NOT starts_with(d.datname, %s) "
                    "ORDER BY d.datname",
                    (owner, config["db_template"], HIDDEN_PREFIX),
                )
                return [name for (name,) in cr.fetchall()]
            except Exception:
                _logger.exception("Listing databases failed:")
                return []

    odoo.sql_db.connection_info_for = connection_info_for
    odoo.service.db.list_dbs = list_dbs
    odoo.service.server.list_dbs = list_dbs  # bound there by `from .db import list_dbs`
    _logger.info("each tenant database is served as its own role; tenants are owned by %s", owner)
    _install_lifecycle(catalog, section)

    from . import routing  # custom domains and hosts: in a module of its own (routing.py)

    routing.install(section)


def _install_lifecycle(catalog: str, section: dict[str, str]) -> None:
    """Suspension and plans' user limits, read from odoo-saas's catalog (suspension.py,
    user_limit.py)."""
    from . import suspension, user_limit
    from .catalog_cache import CatalogCache

    cache = CatalogCache(catalog)
    suspension.install(cache, section)
    user_limit.install(cache)
