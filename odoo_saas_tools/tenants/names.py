"""Tenant names and the per-tenant lock shared by every operation on a tenant."""

from __future__ import annotations

import contextlib
import logging
import re
import zlib
from collections.abc import Iterator

from odoo_saas_tools.core.errors import BusyError, ConfigError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import RESERVED_PREFIX, connect

log = logging.getLogger(__name__)

# What Odoo's web database manager accepts; PostgreSQL truncates names past 63 bytes.
ODOO_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
DNS_LABEL = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?")
PROTECTED = {"postgres", "template0", "template1"}
LOCK_NAMESPACE = 0x0D00  # first key of our two-key advisory locks


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


def lock_key(name: str) -> int:
    """A stable 32-bit key for the database name (advisory locks take integers)."""
    return zlib.crc32(name.encode()) - 2**31


@contextlib.contextmanager
def tenant_lock(settings: Settings, name: str, *, operation: str = "operation") -> Iterator[None]:
    """Hold PostgreSQL's advisory lock for tenant `name` for the whole operation.

    The lock lives in PostgreSQL, so it also serialises commands run in different containers
    (replicas) that share the database server; it is released if the process dies.
    """
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_NAMESPACE, lock_key(name)))
        if not cr.fetchone()[0]:
            raise BusyError(
                f"{name} is busy: another odoo-saas operation on this tenant is running; "
                f"try the {operation} again when it has finished"
            )
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                cr.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, lock_key(name)))


@contextlib.contextmanager
def tenant_locks(settings: Settings, *names: str, operation: str = "operation") -> Iterator[None]:
    """Several tenants' locks, taken in a fixed order so two operations cannot deadlock."""
    with contextlib.ExitStack() as stack:
        for name in sorted(set(names)):
            stack.enter_context(tenant_lock(settings, name, operation=operation))
        yield
