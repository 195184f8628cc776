"""Tenant names: what Odoo, PostgreSQL and DNS accept, checked once for every command."""

from __future__ import annotations

import logging
import re

import psycopg2.extensions

from odoo_saas_tools.core.errors import EXIT_UNCHANGED, ConfigError, SaasError
from odoo_saas_tools.core.reserved import RESERVED_PREFIX
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases

log = logging.getLogger(__name__)

# What Odoo's web database manager accepts; PostgreSQL truncates names past 63 bytes.
ODOO_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
DNS_LABEL = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?")
PROTECTED = {"postgres", "template0", "template1"}


def check_name(name: str, settings: Settings | None = None, *, what: str = "database") -> str:
    """Return name if Odoo and PostgreSQL accept it; raise ConfigError saying why not."""
    if not ODOO_NAME.fullmatch(name or ""):
        raise ConfigError(
            f"{what} name {name!r} is not valid: start with a letter or digit, then letters, "
            "digits, _ . - (at least 2 characters)"
        )
    if len(name.encode()) > 63:
        raise ConfigError(f"{what} name {name!r} is longer than PostgreSQL's 63 bytes")
    if name in PROTECTED:
        raise ConfigError(f"{what} name {name!r} is reserved by PostgreSQL")
    if name.startswith(RESERVED_PREFIX):
        raise ConfigError(
            f"{what} name {name!r} uses the prefix {RESERVED_PREFIX} kept for "
            "odoo-saas's own databases"
        )
    if settings is not None and "%d" in settings.db_filter and not DNS_LABEL.fullmatch(name):
        log.warning(
            "%s is not a DNS label (letters, digits, -): with ODOO_DB_FILTER using %%d no host "
            "name can reach it",
            name,
        )
    return name


def ensure_target_free(
    settings: Settings, name: str, *, conn: psycopg2.extensions.connection | None = None
) -> None:
    """The one check before a tenant is created under name (create, provision, clone, rename,
    restore): neither the database nor a stray filestore may exist (Odoo's _check_target).
    conn: the caller's connection to the postgres database, if it has one."""
    if databases.exists(settings, name, conn=conn):
        raise SaasError(f"{name} already exists: nothing changed", EXIT_UNCHANGED)
    fs = settings.filestore(name)
    if fs.exists():
        raise SaasError(
            f"a filestore for {name} exists without its database ({fs}): remove or restore it first"
        )
