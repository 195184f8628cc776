"""PostgreSQL's roles as odoo-saas needs them, and a pool made before them migrated.

Wanted (docs/security.md): the management role (ODOO_SAAS_DB_USER) owns every tenant database
and may create databases and roles; Odoo's role (ODOO_DB_USER) owns nothing and may create
nothing; each database has a role of its own (core/tenant_roles.py), whose password is derived
from ODOO_DB_PASSWORD.

Pools made by earlier versions ran everything as ODOO_DB_USER, which owned the tenants and had
CREATEDB and CREATEROLE. With `fix` (the `all` role's start, `odoo-saas preflight --fix`, the
chart's upgrade job) and the management role's credentials, this moves them over and reports
each change: the databases to the management role, what Odoo's role owns inside each to that
database's own role, CONNECT from PUBLIC to that role only, and CREATEDB/CREATEROLE away from
Odoo's role. What the management role cannot do (Odoo's role is a superuser) is an error that
names the statement a superuser must run. Without `fix` every gap is reported, and a gap that
leaves tenants with power over each other is an error: the stack does not start on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from odoo_saas_tools.catalog import store
from odoo_saas_tools.core import tenant_roles
from odoo_saas_tools.core.errors import SaasError, first_line
from odoo_saas_tools.core.settings import SERVER_DATABASES, Settings
from odoo_saas_tools.postgres import roles
from odoo_saas_tools.postgres.connection import connect, ident
from odoo_saas_tools.postgres.locks import advisory_lock
from odoo_saas_tools.preflight.findings import ERROR, OK, WARNING, Report

CHECK = "roles"
LOCK = "odoo_saas_roles"  # one migration at a time per server
Cursor = psycopg2.extensions.cursor


@dataclass(frozen=True)
class RoleFacts:
    exists: bool
    superuser: bool = False
    createdb: bool = False
    createrole: bool = False


@dataclass
class Pool:
    """What the server holds, read in one pass on the postgres database."""

    manager: RoleFacts
    odoo: RoleFacts
    odoo_owns: list[str]  # databases owned by Odoo's role (a pool made before roles)
    roleless: list[str]  # databases of the manager without their own role
    stale_keys: list[str]  # roles whose password came from another ODOO_DB_PASSWORD
    closed: set[str]  # databases nobody may connect to (cached templates)


def _facts(cr: Cursor, role: str) -> RoleFacts:
    cr.execute(
        "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = %s", (role,)
    )
    row = cr.fetchone()
    return RoleFacts(True, *row) if row else RoleFacts(False)


def read_pool(cr: Cursor, settings: Settings) -> Pool:
    manager = _facts(cr, settings.saas_db_user)
    odoo = _facts(cr, settings.db_user)
    cr.execute(
        "SELECT d.datname, r.rolname, d.datallowconn FROM pg_database d "
        "JOIN pg_roles r ON r.oid = d.datdba "
        "WHERE r.rolname IN (%s, %s) AND d.datname NOT IN ('template0', 'template1') "
        "AND NOT d.datname = ANY(%s) ORDER BY d.datname",
        (settings.db_user, settings.saas_db_user, sorted(SERVER_DATABASES)),
    )
    owned = cr.fetchall()
    cr.execute(
        "SELECT rolname, coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_roles "
        "WHERE starts_with(rolname, %s)",
        (tenant_roles.ROLE_PREFIX,),
    )
    labels = dict(cr.fetchall())
    key = tenant_roles.key_fingerprint(settings.db_password)
    stale = []
    for role, label in labels.items():
        try:
            data = json.loads(label) if label else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict) or data.get("key") != key:
            stale.append(role)
    odoo_owns = [name for name, owner, _ in owned if owner == settings.db_user]
    roleless = [
        name
        for name, owner, _ in owned
        if owner == settings.saas_db_user and tenant_roles.role_for(name) not in labels
    ]
    closed = {name for name, _, allowed in owned if not allowed}
    return Pool(manager, odoo, odoo_owns, roleless, sorted(stale), closed)


def _read(settings: Settings) -> Pool:
    with connect(settings, connect_timeout=5) as conn, conn.cursor() as cr:
        return read_pool(cr, settings)


def check_roles(settings: Settings, report: Report, *, fix: bool) -> None:
    """Report (and with fix and the management role, make) the roles odoo-saas needs."""
    try:
        pool = _read(settings)
    except (SaasError, psycopg2.Error) as exc:
        if not settings.manages:
            report.add(CHECK, "pool", WARNING, f"roles not checked: {first_line(exc)}")
            return
        report.add(
            CHECK,
            settings.saas_db_user,
            ERROR,
            f"cannot log in as the management role {settings.saas_db_user} "
            f"({first_line(exc)}): see docs/security.md for the roles odoo-saas needs",
        )
        settings = replace(settings, saas_db_password="")  # what Odoo's role sees
        try:
            pool = _read(settings)
        except (SaasError, psycopg2.Error):
            return
        _judge(settings, pool, report)
        return
    if fix and settings.manages:
        try:
            with advisory_lock(settings, LOCK, busy="another start is migrating the roles"):
                _migrate(settings, pool, report)
                with connect(settings) as conn, conn.cursor() as cr:
                    pool = read_pool(cr, settings)
        except (SaasError, psycopg2.Error) as exc:
            report.add(CHECK, "migration", ERROR, f"roles not migrated: {first_line(exc)}")
            return
    _judge(settings, pool, report)
    if fix and settings.manages:
        try:
            store.ensure(settings)
        except (SaasError, psycopg2.Error) as exc:
            report.add(CHECK, store.NAME, ERROR, f"catalog not made: {first_line(exc)}")


def _judge(settings: Settings, pool: Pool, report: Report) -> None:
    """What is left, as findings: errors where a tenant's SQL would reach beyond its tenant."""
    odoo, manager = settings.db_user, settings.saas_db_user
    how = "run `odoo-saas preflight --fix` with ODOO_SAAS_DB_PASSWORD set (docs/security.md)"
    if not pool.manager.exists:
        report.add(
            CHECK,
            manager,
            ERROR if settings.manages else WARNING,
            f"the management role {manager} does not exist: as a superuser, CREATE ROLE "
            f"{manager} LOGIN CREATEDB CREATEROLE PASSWORD '...' (docs/security.md)",
        )
    elif pool.manager.superuser:
        report.add(
            CHECK,
            manager,
            WARNING,
            f"the management role {manager} is a superuser: CREATEDB CREATEROLE is all it needs",
        )
    elif not (pool.manager.createdb and pool.manager.createrole):
        report.add(
            CHECK,
            manager,
            ERROR if settings.manages else WARNING,
            f"the management role {manager} needs CREATEDB and CREATEROLE (as a superuser: "
            f"ALTER ROLE {manager} CREATEDB CREATEROLE)",
        )
    powers = [
        name
        for name, held in (
            ("SUPERUSER", pool.odoo.superuser),
            ("CREATEDB", pool.odoo.createdb),
            ("CREATEROLE", pool.odoo.createrole),
        )
        if held
    ]
    if powers:
        fix = (
            f"as a superuser: ALTER ROLE {odoo} NOSUPERUSER NOCREATEDB NOCREATEROLE"
            if pool.odoo.superuser
            else how
        )
        report.add(
            CHECK,
            odoo,
            ERROR,
            f"Odoo's role {odoo} has {' '.join(powers)}: SQL planted in any tenant would run "
            f"with it while Odoo serves that tenant; {fix}",
        )
    if pool.odoo_owns:
        report.add(
            CHECK,
            odoo,
            ERROR,
            f"Odoo's role {odoo} owns {len(pool.odoo_owns)} database(s) "
            f"({_some(pool.odoo_owns)}): any of them could rename or drop the others; {how}",
        )
    if pool.roleless:
        report.add(
            CHECK,
            "tenants",
            ERROR,
            f"{len(pool.roleless)} database(s) of {manager} have no role of their own "
            f"({_some(pool.roleless)}): Odoo cannot log in to them; {how}",
        )
    if pool.stale_keys:
        report.add(
            CHECK,
            "passwords",
            ERROR,
            f"{len(pool.stale_keys)} database role(s) have passwords derived from another "
            f"ODOO_DB_PASSWORD: Odoo cannot log in to those tenants; {how}",
        )
    if not (powers or pool.odoo_owns or pool.roleless or pool.stale_keys) and pool.manager.exists:
        report.add(
            CHECK,
            "pool",
            OK,
            f"{manager} owns the tenants, each served as its own role; {odoo} owns nothing",
        )


def _migrate(settings: Settings, pool: Pool, report: Report) -> None:
    """Every change, said as it is made (CHECK "roles", status OK)."""
    odoo, manager = settings.db_user, settings.saas_db_user
    with connect(settings) as conn, conn.cursor() as cr:
        roles.check_management(cr, settings)
        if not pool.odoo.exists:
            cr.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    ident(odoo), sql.Literal(tenant_roles.scram_verifier(settings.db_password))
                )
            )
            report.add(CHECK, odoo, OK, f"created Odoo's role {odoo} (owns nothing)")
        if pool.odoo_owns:
            _take_databases(cr, settings, pool.odoo_owns, report)
    for name in pool.odoo_owns:
        _adopt(settings, name, previous_owner=odoo, closed=name in pool.closed)
        report.add(
            CHECK,
            name,
            OK,
            f"now owned by {manager} and served as its own role "
            f"{tenant_roles.role_for(name)} (was {odoo}'s)",
        )
    for name in pool.roleless:
        _adopt(settings, name, previous_owner=None, closed=name in pool.closed)
        report.add(CHECK, name, OK, f"given its own role {tenant_roles.role_for(name)}")
    with connect(settings) as conn, conn.cursor() as cr:
        if pool.stale_keys:
            for role in pool.stale_keys:
                _renew_password(cr, settings, role)
            report.add(
                CHECK,
                "passwords",
                OK,
                f"{len(pool.stale_keys)} database role(s) given passwords from the current "
                "ODOO_DB_PASSWORD",
            )
        # a superuser's attributes only a superuser can change: said by _judge
        powerful = pool.odoo.createdb or pool.odoo.createrole
        if pool.odoo.exists and powerful and not pool.odoo.superuser:
            cr.execute(sql.SQL("ALTER ROLE {} NOCREATEDB NOCREATEROLE").format(ident(odoo)))
            report.add(
                CHECK, odoo, OK, f"Odoo's role {odoo} may no longer create databases or roles"
            )


def _take_databases(cr: Cursor, settings: Settings, names: list[str], report: Report) -> None:
    """Every database of Odoo's role to the management role, before any REASSIGN OWNED (which
    would also hand over the databases Odoo's role still owned)."""
    odoo = settings.db_user
    cr.execute(
        "SELECT 1 FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid "
        "JOIN pg_roles m ON m.oid = a.member WHERE r.rolname = %s AND m.rolname = current_user",
        (odoo,),
    )
    member = cr.fetchone() is not None
    if not member:
        try:
            cr.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(ident(odoo)))
        except psycopg2.Error as exc:
            raise SaasError(
                f"{settings.saas_db_user} cannot take over {odoo}'s databases "
                f"({first_line(exc)}); as a superuser: GRANT {odoo} TO {settings.saas_db_user}"
            ) from exc
    cr.execute(
        "SELECT count(*) FROM pg_tablespace WHERE spcowner = "
        "(SELECT oid FROM pg_roles WHERE rolname = %s)",
        (odoo,),
    )
    if cr.fetchone()[0]:
        raise SaasError(f"Odoo's role {odoo} owns a tablespace: give it to another role first")
    for name in names:
        cr.execute(sql.SQL("ALTER DATABASE {} OWNER TO CURRENT_USER").format(ident(name)))
    if not member:
        cr.execute(sql.SQL("REVOKE {} FROM CURRENT_USER").format(ident(odoo)))


def _adopt(settings: Settings, name: str, *, previous_owner: str | None, closed: bool) -> None:
    """name, owned by the management role, gets its role; what previous_owner (Odoo's role)
    made inside it goes to that role. No statement here reads the tenant's tables. A closed
    database (a cached template) is opened for the moment it takes."""
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute("BEGIN")
        roles.give(cr, settings, name)
        if closed:
            cr.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(ident(name)))
        cr.execute("COMMIT")
        try:
            _hand_inside(settings, name, previous_owner)
        finally:
            if closed:
                cr.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(ident(name)))


def _hand_inside(settings: Settings, name: str, previous_owner: str | None) -> None:
    role = tenant_roles.role_for(name)
    with connect(settings, name, management=True) as conn, conn.cursor() as cr:
        cr.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(ident(role)))
        if previous_owner:
            cr.execute(
                "SELECT 1 FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid "
                "JOIN pg_roles m ON m.oid = a.member WHERE r.rolname = %s "
                "AND m.rolname = current_user",
                (previous_owner,),
            )
            member = cr.fetchone() is not None
            if not member:
                cr.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(ident(previous_owner)))
            try:
                cr.execute(
                    sql.SQL("REASSIGN OWNED BY {} TO {}").format(ident(previous_owner), ident(role))
                )
            finally:
                if not member:
                    cr.execute(sql.SQL("REVOKE {} FROM CURRENT_USER").format(ident(previous_owner)))


def _renew_password(cr: Cursor, settings: Settings, role: str) -> None:
    cr.execute(
        "SELECT coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_roles WHERE rolname = %s",
        (role,),
    )
    row = cr.fetchone()
    try:
        dbname = json.loads(row[0]).get("database") if row and row[0] else None
    except (ValueError, AttributeError):
        dbname = None
    if not isinstance(dbname, str) or tenant_roles.role_for(dbname) != role:
        return  # not one of ours as labelled: left for db sweep
    cr.execute("BEGIN")
    roles.reset(cr, settings, dbname)
    cr.execute("COMMIT")


def _some(names: list[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
