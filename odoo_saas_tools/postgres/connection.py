"""PostgreSQL access: connections, waiting for the server, finding Odoo tenant databases."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterator

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from odoo_saas_tools.core.errors import SaasError, first_line
from odoo_saas_tools.core.files import path_component
from odoo_saas_tools.core.odoo_series import ODOO_SERIES
from odoo_saas_tools.core.reserved import RESERVED_PREFIX
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)

# Sent in the start-up packet, so it beats a database's or role's own `SET search_path` (which a
# tenant's SQL may have changed): a name we read resolves to public's table or pg_catalog's.
PINNED_OPTIONS = "-c search_path=public"


@contextlib.contextmanager
def connect(
    settings: Settings,
    dbname: str = "postgres",
    *,
    autocommit: bool = True,
    connect_timeout: int = 10,
    keepalive: bool = False,
    management: bool = False,
    **params: str,
) -> Iterator[psycopg2.extensions.connection]:
    """A connection that is always closed; autocommit by default (CREATE DATABASE needs it).

    Inside a tenant's database it logs in as that database's own role (Settings.login_for).
    management: log in as the management role even there, for the few statements that run no
    SQL the tenant wrote (REASSIGN OWNED, ALTER SCHEMA ... OWNER; never a query of its tables).
    keepalive: TCP keepalives notice a dead peer within about a minute (for lock sessions).
    params: libpq connection parameters over ours (application_name, options).
    """
    extra = (
        {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}
        if keepalive
        else {}
    )
    kwargs = {**settings.connect_kwargs(dbname), **params}
    kwargs["options"] = f"{PINNED_OPTIONS} {kwargs.get('options', '')}".rstrip()
    if management:
        kwargs["user"], kwargs["password"] = settings.saas_db_user, settings.saas_db_password
    try:
        conn = psycopg2.connect(connect_timeout=connect_timeout, **extra, **kwargs)
    except psycopg2.OperationalError as exc:
        first = first_line(exc, "connection failed")
        raise SaasError(
            f"cannot connect to PostgreSQL at {settings.db_host}:{settings.db_port} "
            f"(database {dbname}, user {kwargs['user']}): {first}"
        ) from exc
    conn.autocommit = autocommit
    try:
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def server_session(
    settings: Settings, conn: psycopg2.extensions.connection | None = None
) -> Iterator[psycopg2.extensions.connection]:
    """conn, an autocommit connection to the postgres database the caller holds (a tenant
    lock's session), or a new one: each connection costs PostgreSQL a backend start, a tenth of
    a signup's server time."""
    if conn is not None:
        yield conn
        return
    with connect(settings) as new:
        yield new


def wait_for_postgres(settings: Settings, timeout: float | None = None) -> None:
    """Block until PostgreSQL accepts our credentials, or raise after the timeout."""
    timeout = settings.db_wait_timeout if timeout is None else timeout
    deadline = time.monotonic() + timeout
    delay = 0.25
    while True:
        try:
            with connect(settings, connect_timeout=max(1, min(5, int(timeout) or 1))) as conn:
                conn.cursor().execute("SELECT 1")
            return
        except SaasError as exc:
            if "password authentication failed" in str(exc) or "does not exist" in str(exc):
                raise  # waiting will not fix wrong credentials
            if time.monotonic() + delay > deadline:
                raise SaasError(
                    f"PostgreSQL at {settings.db_host}:{settings.db_port} did not answer within "
                    f"{timeout:g} s (ODOO_DB_WAIT_TIMEOUT): {exc}"
                ) from exc
            log.info("waiting for PostgreSQL at %s:%s", settings.db_host, settings.db_port)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def ident(name: str) -> sql.Identifier:
    """A database or role name quoted by the driver, never by string formatting."""
    return sql.Identifier(name)


def owned_databases(
    settings: Settings, conn: psycopg2.extensions.connection | None = None
) -> list[str]:
    """What Odoo's database list holds (the odoo_saas_tenancy addon asks the same): owned by
    the management role, not templates, connectable, not postgres. On conn if given (any
    database of the server: pg_database is shared)."""
    with server_session(settings, conn) as session, session.cursor() as cr:
        cr.execute(
            """
            SELECT d.datname FROM pg_database d
              JOIN pg_roles r ON r.oid = d.datdba
             WHERE r.rolname = %s AND NOT d.datistemplate AND d.datallowconn
               AND d.datname NOT IN ('postgres', 'template0', 'template1')
             ORDER BY d.datname
            """,
            (settings.saas_db_user,),
        )
        return [row[0] for row in cr.fetchall()]


def base_version(cr: psycopg2.extensions.cursor) -> str | None:
    """base's installed version on this cursor's database: None when the database is not
    Odoo's (no ir_module_module, the table Odoo recognises its databases by), "" when it is
    Odoo-shaped but base has no version."""
    cr.execute("SELECT to_regclass('ir_module_module') IS NOT NULL")
    if not cr.fetchone()[0]:
        return None
    cr.execute("SELECT latest_version FROM ir_module_module WHERE name = 'base'")
    row = cr.fetchone()
    return (row[0] if row else None) or ""


def odoo_version(settings: Settings, dbname: str) -> str | None:
    """base's installed version when dbname is an Odoo database, else None."""
    with connect(settings, dbname) as conn, conn.cursor() as cr:
        return base_version(cr) or None


def filter_allows(settings: Settings, dbname: str) -> bool:
    """Whether the configured db_name/dbfilter would let Odoo serve dbname on some host.

    With %d/%h in the filter every name that fits the filter's shape is potentially served, so
    the placeholders are replaced by the database name itself (a tenant at <db>.<domain>).
    """
    if settings.db_name and not settings.db_filter:
        return dbname in settings.db_name
    if not settings.db_filter:
        return True
    pattern = settings.db_filter.replace("%d", re.escape(dbname)).replace("%h", r"[^/]*")
    return re.match(pattern, dbname) is not None


def servable_databases(settings: Settings) -> list[str]:
    """The databases this stack may serve, Odoo 19 or not: owned, allowed by the filter, never
    odoo-saas's own (reserved)."""
    return [
        name
        for name in owned_databases(settings)
        if not name.startswith(RESERVED_PREFIX) and filter_allows(settings, name)
    ]


def tenant_databases(settings: Settings, *, major: str = ODOO_SERIES) -> list[str]:
    """Odoo databases of the given major version that this stack serves; never reserved ones."""
    out = []
    for name in servable_databases(settings):
        try:
            path_component(name)  # it becomes a folder and file names: never ../../somewhere
            version = odoo_version(settings, name)
        except SaasError as exc:
            log.warning("skipping %s: %s", name, exc)
            continue
        if version and version.startswith(major):
            out.append(name)
    return out
