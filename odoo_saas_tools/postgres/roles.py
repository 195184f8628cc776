"""The role of each database (core/tenant_roles.py): made with the database, renamed with it,
handed a copy's objects, dropped with it.

Everything here runs as the management role, which owns the databases and is a member of every
database role (so it may end their sessions and reassign their objects). A database role is
born powerless: LOGIN, no CREATEDB/CREATEROLE/REPLICATION/BYPASSRLS, CONNECT (and CREATE,
TEMPORARY) on its own database only, PUBLIC's default CONNECT revoked there (Odoo's own role
keeps CONNECT, for the sizes the exporter reads, and nothing inside).

Whatever SQL ran as a role (a restored backup's) may have changed the role itself: its session
defaults (`ALTER ROLE ... SET`), its password, or granted it to others. `reset` undoes all of
that, and runs whenever a role starts serving under a new name (a restore's swap, a spare's
claim, a rename) and when one is made again over a leftover.
"""

from __future__ import annotations

import json
import logging

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from odoo_saas_tools.core import tenant_roles
from odoo_saas_tools.core.errors import ConfigError, SaasError, first_line
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import connect, ident, server_session

log = logging.getLogger(__name__)

Cursor = psycopg2.extensions.cursor
ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"


def role_exists(cr: Cursor, role: str) -> bool:
    cr.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    return cr.fetchone() is not None


def check_management(cr: Cursor, settings: Settings) -> None:
    """One line naming what is missing, before anything is created."""
    if not settings.manages:
        raise ConfigError(
            f"this needs the management role {settings.saas_db_user}: set "
            "ODOO_SAAS_DB_PASSWORD (or ODOO_SAAS_DB_PASSWORD_FILE)"
        )
    cr.execute(
        "SELECT rolsuper OR (rolcreatedb AND rolcreaterole) FROM pg_roles "
        "WHERE rolname = current_user"
    )
    row = cr.fetchone()
    if not row or not row[0]:
        raise ConfigError(
            f"the management role {settings.saas_db_user} needs CREATEDB and CREATEROLE "
            f"(as a superuser: ALTER ROLE {settings.saas_db_user} CREATEDB CREATEROLE)"
        )


def give(cr: Cursor, settings: Settings, dbname: str) -> str:
    """Make (or take back and reset) dbname's role and let it, and only it, into dbname.
    Runs in the caller's transaction, on a session of the management role."""
    role = tenant_roles.role_for(dbname)
    if role_exists(cr, role):
        reset(cr, settings, dbname)
    else:
        cr.execute(
            sql.SQL("CREATE ROLE {} " + ATTRIBUTES + " PASSWORD {}").format(
                ident(role), sql.Literal(_verifier(settings, role))
            )
        )
        cr.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(ident(role)))
        _label(cr, settings, dbname)
    cr.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident(dbname)))
    cr.execute(sql.SQL("GRANT ALL ON DATABASE {} TO {}").format(ident(dbname), ident(role)))
    if role_exists(cr, settings.db_user):
        # CONNECT alone lets pg_database_size measure it from the pool's exporter, which runs
        # without the management role; Odoo's role may read nothing inside (no grants there)
        cr.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                ident(dbname), ident(settings.db_user)
            )
        )
    return role


def reset(cr: Cursor, settings: Settings, dbname: str) -> None:
    """dbname's role as give() made it, whatever SQL that ran as it changed on itself."""
    role = tenant_roles.role_for(dbname)
    # Its attributes need no reset: a role without CREATEROLE cannot change its own (only its
    # password and its session defaults), and SUPERUSER, REPLICATION or BYPASSRLS only a
    # superuser can give.
    cr.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            ident(role), sql.Literal(_verifier(settings, role))
        )
    )
    cr.execute(sql.SQL("ALTER ROLE {} RESET ALL").format(ident(role)))
    cr.execute(
        "SELECT d.datname FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
        "WHERE s.setrole = (SELECT oid FROM pg_roles WHERE rolname = %s)",
        (role,),
    )
    for (db,) in cr.fetchall():
        cr.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} RESET ALL").format(ident(role), ident(db)))
    # Memberships in this role granted to anyone but us (a role may grant itself in PG <= 15)
    cr.execute(
        "SELECT m.rolname, g.rolname FROM pg_auth_members a "
        "JOIN pg_roles m ON m.oid = a.member JOIN pg_roles g ON g.oid = a.grantor "
        "WHERE a.roleid = (SELECT oid FROM pg_roles WHERE rolname = %s) "
        "AND m.rolname <> current_user",
        (role,),
    )
    for member, grantor in cr.fetchall():
        cr.execute(
            sql.SQL("REVOKE {} FROM {} GRANTED BY {} CASCADE").format(
                ident(role), ident(member), ident(grantor)
            )
        )
    cr.execute(
        "SELECT 1 FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid "
        "WHERE r.rolname = %s AND a.member = (SELECT oid FROM pg_roles WHERE rolname = "
        "current_user)",
        (role,),
    )
    if cr.fetchone() is None:
        cr.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(ident(role)))
    _label(cr, settings, dbname)


def rename(cr: Cursor, settings: Settings, old: str, new: str) -> None:
    """In the transaction that renames database old to new: its role follows, reset."""
    old_role, new_role = tenant_roles.role_for(old), tenant_roles.role_for(new)
    if not role_exists(cr, old_role):
        give(cr, settings, new)  # a database made before roles (migrated) or by hand
        return
    if role_exists(cr, new_role):
        _drop_leftover(cr, new_role)
    cr.execute(sql.SQL("ALTER ROLE {} RENAME TO {}").format(ident(old_role), ident(new_role)))
    reset(cr, settings, new)


def drop(settings: Settings, dbname: str) -> None:
    """After DROP DATABASE: the role goes too (a failure is left to db sweep, logged)."""
    role = tenant_roles.role_for(dbname)
    with connect(settings) as conn, conn.cursor() as cr:
        try:
            cr.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident(role)))
        except psycopg2.Error as exc:
            log.warning("the role of %s (%s) was not dropped: %s", dbname, role, first_line(exc))


def hand_over(
    settings: Settings, src: str, dst: str, *, conn: psycopg2.extensions.connection | None = None
) -> None:
    """dst, a copy of src made by CREATE DATABASE ... TEMPLATE, gets a role of its own, which
    takes over what src's role owns in dst (src's role could otherwise reach the copy).
    conn: the caller's autocommit session to the postgres database, if it has one."""
    with server_session(settings, conn) as session, session.cursor() as cr:
        cr.execute("BEGIN")
        try:
            give(cr, settings, dst)
        except BaseException:
            cr.execute("ROLLBACK")
            raise
        cr.execute("COMMIT")
    src_role, dst_role = tenant_roles.role_for(src), tenant_roles.role_for(dst)
    with connect(settings, dst, management=True) as conn, conn.cursor() as cr:
        if role_exists(cr, src_role):
            cr.execute(
                sql.SQL("REASSIGN OWNED BY {} TO {}").format(ident(src_role), ident(dst_role))
            )


def sweep(settings: Settings) -> list[str]:
    """Database roles whose database is gone (a drop killed between its two steps): dropped.
    Returns their names."""
    gone = []
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute("SELECT datname FROM pg_database")
        expected = {tenant_roles.role_for(name) for (name,) in cr.fetchall()}
        cr.execute(
            "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)",
            (tenant_roles.ROLE_PREFIX,),
        )
        for (role,) in cr.fetchall():
            if role in expected or not tenant_roles.is_tenant_role(role):
                continue
            try:
                cr.execute(sql.SQL("DROP ROLE {}").format(ident(role)))
                gone.append(role)
            except psycopg2.Error as exc:
                log.warning("leftover role %s not dropped: %s", role, first_line(exc))
    return gone


def _drop_leftover(cr: Cursor, role: str) -> None:
    """A role named like one about to be reused, left by a killed operation; it owns
    nothing anywhere (its database is gone), or dropping it fails and says so."""
    try:
        cr.execute("SAVEPOINT leftover")
        cr.execute(sql.SQL("DROP ROLE {}").format(ident(role)))
        cr.execute("RELEASE SAVEPOINT leftover")
    except psycopg2.Error as exc:
        cr.execute("ROLLBACK TO SAVEPOINT leftover")
        raise SaasError(
            f"the role {role} is left from another database: {first_line(exc)}"
        ) from exc


def _verifier(settings: Settings, role: str) -> str:
    return tenant_roles.scram_verifier(tenant_roles.password_for(settings.db_password, role))


def _label(cr: Cursor, settings: Settings, dbname: str) -> None:
    """Whose role it is, and which key its password comes from (a changed ODOO_DB_PASSWORD
    is then found by comparing comments: pre-flight sets the new passwords)."""
    comment = json.dumps(
        {"database": dbname, "key": tenant_roles.key_fingerprint(settings.db_password)}
    )
    cr.execute(
        sql.SQL("COMMENT ON ROLE {} IS {}").format(
            ident(tenant_roles.role_for(dbname)), sql.Literal(comment)
        )
    )
