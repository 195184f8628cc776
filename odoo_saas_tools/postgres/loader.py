"""Loading SQL that may come from anyone, as a role that can harm nothing but its database.

A backup's SQL (dump.sql, a .sql.gz, a custom-format TOC) would otherwise run as the role that
owns every tenant: `ALTER DATABASE other RENAME ...`, `DROP DATABASE other` or `ALTER ROLE ...`
would go through. Instead a throw-away role is created for each load, owning only the scratch
database (and the extensions it creates there, as Odoo's dumps expect); our loading connections
and pg_restore log in as it. Whatever the SQL says, it runs with that role's rights: it owns
nothing else, may create no database or role, and SQL alone cannot connect anywhere else (no
psql runs it, so no \\connect).
Afterwards everything it owns is reassigned to the tenants' role and the role is dropped. This
cannot be bypassed by syntax, unlike any filter of statements.

Needs CREATEROLE (or superuser) for the tenants' role; a role without it gets one line saying
so (`ALTER ROLE odoo CREATEROLE`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import secrets
import uuid
from collections.abc import Iterator

import psycopg2
from psycopg2 import sql

from odoo_saas_tools.core.errors import ConfigError, SaasError, first_line
from odoo_saas_tools.core.reserved import RESERVED_PREFIX
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect, ident

log = logging.getLogger(__name__)

ROLE_PREFIX = RESERVED_PREFIX + "load_"


@contextlib.contextmanager
def scratch_database(settings: Settings, name: str) -> Iterator[Settings]:
    """Create the empty database name owned by a new throw-away role; yield settings that log
    in as that role, for the load only. On leaving, name and all in it belong to the tenants'
    role again and the throw-away role is gone (also when the load failed)."""
    role = ROLE_PREFIX + uuid.uuid4().hex[:12]
    password = secrets.token_urlsafe(24)
    _create_role(settings, role, password)
    try:
        databases.create_database(settings, name, owner=role)
        as_loader = dataclasses.replace(settings, db_user=role, db_password=password)
        try:
            databases.prepare_like_odoo(as_loader, name)
        except SaasError as exc:
            raise SaasError(
                f"cannot log in as the loading role {role} ({exc}): PostgreSQL's pg_hba.conf "
                "must accept password logins for any role from here"
            ) from exc
        yield as_loader
    finally:
        _hand_back(settings, name, role)


def _create_role(settings: Settings, role: str, password: str) -> None:
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
        row = cr.fetchone()
        if not row or not row[0]:
            raise ConfigError(
                f"restoring needs the CREATEROLE right for {settings.db_user} (a backup's SQL is "
                f"loaded as a throw-away role that can touch nothing else): ALTER ROLE "
                f"{settings.db_user} CREATEROLE"
            )
        try:
            cr.execute(
                sql.SQL(
                    "CREATE ROLE {} LOGIN NOCREATEDB NOCREATEROLE NOREPLICATION "
                    "CONNECTION LIMIT 16 PASSWORD {}"
                ).format(ident(role), sql.Literal(password))
            )
            cr.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(ident(role)))
        except psycopg2.Error as exc:
            raise SaasError(f"cannot create the loading role: {first_line(exc)}") from exc


def _hand_back(settings: Settings, name: str, role: str) -> None:
    """Everything role owns in name goes to the tenants' role; then role is dropped."""
    if databases.exists(settings, name):
        try:
            with connect(settings, name) as conn, conn.cursor() as cr:
                cr.execute(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(ident(role)))
                cr.execute(sql.SQL("DROP OWNED BY {}").format(ident(role)))
        except (psycopg2.Error, SaasError) as exc:
            log.error("handing %s back from %s failed: %s", name, role, first_line(exc))
            raise SaasError(f"handing {name} back from the loading role failed") from exc
    with connect(settings) as conn, conn.cursor() as cr:
        # its sessions first (a killed load's connection may linger for a moment)
        cr.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
        )
        try:
            cr.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident(role)))
        except psycopg2.Error as exc:
            log.error("the loading role %s was not dropped: %s", role, first_line(exc))


def leftover_roles(settings: Settings) -> list[str]:
    """Loading roles whose restore was killed before it dropped them (swept)."""
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute("SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", (ROLE_PREFIX,))
        return [r for (r,) in cr.fetchall()]


def drop_role(settings: Settings, role: str) -> None:
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident(role)))
