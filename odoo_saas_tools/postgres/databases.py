"""Whole-database operations in PostgreSQL: exists, copy by template, online copy, drop, rename.

Names are always quoted by the driver (postgres.ident). Copies use `CREATE DATABASE ... TEMPLATE`
(PostgreSQL 15's WAL_LOG strategy: 0.6 s for 90 MB), which needs the source to itself; the online
copy (pg_dump | psql) is the fallback that leaves the source's users connected.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from odoo_saas_tools.core import tenant_roles
from odoo_saas_tools.core.errors import SaasError, first_line
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import roles
from odoo_saas_tools.postgres.connection import connect, ident, server_session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DbRow:
    name: str
    is_template: bool
    allow_connections: bool
    owned: bool
    size_bytes: int


def info(
    settings: Settings, name: str, *, conn: psycopg2.extensions.connection | None = None
) -> DbRow | None:
    """pg_database facts about name, or None when it does not exist (on conn if given)."""
    with server_session(settings, conn) as session, session.cursor() as cr:
        cr.execute(
            """
            SELECT d.datname, d.datistemplate, d.datallowconn,
                   pg_get_userbyid(d.datdba) = %s,
                   CASE WHEN has_database_privilege(d.datname, 'CONNECT')
                        THEN pg_database_size(d.datname) ELSE 0 END
              FROM pg_database d WHERE d.datname = %s
            """,
            (settings.saas_db_user, name),
        )
        row = cr.fetchone()
    return DbRow(*row) if row else None


def exists(
    settings: Settings, name: str, *, conn: psycopg2.extensions.connection | None = None
) -> bool:
    with server_session(settings, conn) as session, session.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return cr.fetchone() is not None


def other_connections(
    settings: Settings, name: str, *, conn: psycopg2.extensions.connection | None = None
) -> int:
    """Sessions connected to name other than ours (on conn if given)."""
    with server_session(settings, conn) as session, session.cursor() as cr:
        cr.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        return int(cr.fetchone()[0])


# Client sessions only: PostgreSQL itself stops autovacuum workers that would block a DROP,
# RENAME or TEMPLATE copy, and terminating them (superuser processes) is refused to our role.
TERMINATE_SQL = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
)


def terminate(settings: Settings, name: str) -> int:
    """Disconnect every other session of name, as Odoo does before drop/duplicate/rename."""
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute(TERMINATE_SQL, (name,))
        count = int(cr.fetchone()[0])
    if count:
        log.info("disconnected %d session(s) from %s", count, name)
    return count


class SourceBusy(SaasError):
    """CREATE DATABASE ... TEMPLATE refused: someone is connected to the source."""


def copy_by_template(
    settings: Settings,
    src: str,
    dst: str,
    *,
    conn: psycopg2.extensions.connection | None = None,
    hand_over: bool = True,
) -> None:
    """CREATE DATABASE dst TEMPLATE src (needs no other session on src); on conn if given.
    Then dst gets its own role (unless the caller does it later: hand_over=False)."""
    with contextlib.ExitStack() as stack:
        if conn is None:
            conn = stack.enter_context(connect(settings))
        cr = stack.enter_context(conn.cursor())
        try:
            cr.execute(
                sql.SQL("CREATE DATABASE {} ENCODING 'unicode' TEMPLATE {}").format(
                    ident(dst), ident(src)
                )
            )
        except psycopg2.errors.ObjectInUse as exc:
            raise SourceBusy(f"{src} is in use by other sessions") from exc
        except psycopg2.errors.QueryCanceled:
            raise
        except psycopg2.Error as exc:
            raise SaasError(f"creating {dst} from {src} failed: {first_line(exc)}") from exc
        if hand_over:
            hand_over_copy(settings, src, dst, conn=conn)


def hand_over_copy(
    settings: Settings, src: str, dst: str, *, conn: psycopg2.extensions.connection | None = None
) -> None:
    """dst's own role takes over from src's (dropped again when that fails)."""
    try:
        roles.hand_over(settings, src, dst, conn=conn)
    except BaseException:
        drop_quietly(settings, dst)
        raise


# Sessions of a connection pool that reconnects by itself: Odoo names its connections
# "odoo-<pid>" (db_app_name's default) and resets a pooled connection before lending it,
# dropping it when the reset fails. Only such sessions, of the database's own role, are ever
# released.
POOLED_APP = "^odoo-[0-9]+$"

_SESSIONS_SQL = """
    SELECT count(*) FILTER (WHERE NOT (application_name ~ %(app)s AND usename = %(role)s)),
           count(*) FILTER (WHERE application_name ~ %(app)s AND usename = %(role)s)
      FROM pg_stat_activity
     WHERE datname = %(db)s AND pid <> pg_backend_pid() AND backend_type = 'client backend'
       AND pid <> %(creator)s
"""

# Idle (between transactions) and idle for a moment, and not just borrowed: Odoo's pool resets
# a connection when it lends it out (psycopg2's reset() sends DISCARD ALL), and the request then
# holds it idle until its first statement, which can take longer than 50 ms on a busy machine;
# released there, that statement would fail and the request with it. Such a connection is left
# alone and looked at again on the next pass, when it is busy or back in the pool.
_RELEASE_IDLE_SQL = """
    SELECT coalesce(array_agg(pid) FILTER (WHERE pg_terminate_backend(pid)), '{}')
      FROM pg_stat_activity
     WHERE datname = %(db)s AND pid <> pg_backend_pid() AND backend_type = 'client backend'
       AND pid <> %(creator)s AND state = 'idle' AND application_name ~ %(app)s
       AND usename = %(role)s AND state_change < clock_timestamp() - interval '50 ms'
       AND query <> 'DISCARD ALL'
"""


def copy_by_template_live(
    settings: Settings,
    src: str,
    dst: str,
    *,
    wait: float = 0.5,
    hold: float = 1.5,
    watcher: psycopg2.extensions.connection | None = None,
) -> int:
    """CREATE DATABASE dst TEMPLATE src while Odoo serves src; returns the sessions released.

    CREATE DATABASE locks src first, so from then on new connections to src wait (inside
    PostgreSQL) until the copy is committed; it then waits for src's other sessions to leave.
    Meanwhile Odoo's idle pooled sessions are disconnected (the pool opens a new connection on
    its next request, which waits for the copy) and busy ones get `wait` seconds to become idle.
    Raises SourceBusy, with nothing created, when a session that cannot be released (any other
    program, another role) is connected, one stays busy longer than `wait`, or the whole copy
    would hold new connections longer than `hold` seconds (a slow disk, a busy server): the
    caller then copies online.
    watcher: an idle autocommit session to the postgres database the caller holds (its lock
    session), else one is opened; the copy itself always runs on a session of its own.
    """
    args = {"db": src, "app": POOLED_APP, "creator": 0, "role": tenant_roles.role_for(src)}
    outcome: list[BaseException | None] = []
    with (
        connect(settings) as creator,
        server_session(settings, watcher) as session,
        session.cursor() as cr,
    ):
        cr.execute(_SESSIONS_SQL, args)
        if cr.fetchone()[0]:
            raise SourceBusy(f"{src} has sessions that cannot be released")
        args["creator"] = creator.get_backend_pid()
        # Released first, and gone, before CREATE DATABASE looks: it re-checks only every 100 ms
        # (pg_terminate_backend's own timeout waits in steps of 100 ms too).
        cr.execute(_RELEASE_IDLE_SQL, args)
        pids = cr.fetchone()[0]
        released = len(pids)
        gone_by = time.monotonic() + 0.2
        while pids and time.monotonic() < gone_by:
            time.sleep(0.005)
            cr.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,))
            if not cr.fetchone()[0]:
                break

        def create() -> None:
            try:
                copy_by_template(settings, src, dst, conn=creator, hand_over=False)
                outcome.append(None)
            except BaseException as exc:  # handed to the calling thread
                outcome.append(exc)

        thread = threading.Thread(target=create, name=f"create {dst}", daemon=True)
        started = time.monotonic()
        thread.start()
        reason = ""
        try:
            while thread.is_alive():
                cr.execute(_RELEASE_IDLE_SQL, args)
                released += len(cr.fetchone()[0])
                cr.execute(_SESSIONS_SQL, args)
                others, pooled = cr.fetchone()
                elapsed = time.monotonic() - started
                if others or (pooled and elapsed > wait):
                    reason = f"{src} stayed in use for more than {wait:g} s"
                elif elapsed > hold:
                    reason = f"copying {src} would hold its users more than {hold:g} s"
                if reason:  # stop holding src's new connections
                    cr.execute("SELECT pg_cancel_backend(%s)", (args["creator"],))
                    break
                thread.join(0.03)
        except BaseException:
            with contextlib.suppress(psycopg2.Error):
                creator.cancel()
            thread.join()
            if outcome == [None]:
                drop_quietly(settings, dst)
            raise
        thread.join()
    error = outcome[0] if outcome else SaasError(f"creating {dst} from {src} stopped")
    if isinstance(error, psycopg2.errors.QueryCanceled):
        raise SourceBusy(reason or f"copying {src} was cancelled") from error
    if error is not None:
        raise error
    hand_over_copy(settings, src, dst)
    if released:
        log.info("released %d idle pooled session(s) of %s for the copy", released, src)
    return released


def create_empty(settings: Settings, name: str) -> None:
    """A new database exactly as Odoo's _create_empty_database makes it (template0, C collation,
    pg_trgm, unaccent when available, CREATE on public for everyone)."""
    create_database(settings, name)
    prepare_like_odoo(settings, name)


def create_database(settings: Settings, name: str) -> None:
    """CREATE DATABASE as Odoo does (template0, unicode, C collation), owned by the management
    role, with a role of its own (postgres/roles.py) that owns its public schema."""
    query = sql.SQL(
        "CREATE DATABASE {} ENCODING 'unicode' TEMPLATE template0 LC_COLLATE 'C'"
    ).format(ident(name))
    with connect(settings) as conn, conn.cursor() as cr:
        roles.check_management(cr, settings)
        try:
            cr.execute(query)
        except psycopg2.Error as exc:
            raise SaasError(f"creating {name} failed: {first_line(exc)}") from exc
    _give_role(settings, name)


def _give_role(settings: Settings, name: str) -> None:
    """name's role, and its public schema handed to it (a new, empty database: nothing of a
    tenant's runs here)."""
    try:
        with connect(settings) as conn, conn.cursor() as cr:
            conn.autocommit = False
            roles.give(cr, settings, name)
            conn.commit()
        with connect(settings, name, management=True) as conn, conn.cursor() as cr:
            cr.execute(
                sql.SQL("ALTER SCHEMA public OWNER TO {}").format(
                    ident(tenant_roles.role_for(name))
                )
            )
    except BaseException:
        drop_quietly(settings, name)
        raise


def prepare_like_odoo(settings: Settings, name: str) -> None:
    """Odoo's extensions and grants, made by the database's own role."""
    with connect(settings, name) as conn, conn.cursor() as cr:
        cr.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        try:
            cr.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
            cr.execute("ALTER FUNCTION unaccent(text) IMMUTABLE")
        except psycopg2.Error as exc:
            log.debug("unaccent not available in %s: %s", name, exc)
        cr.execute("GRANT CREATE ON SCHEMA PUBLIC TO PUBLIC")


def create_empty_like(settings: Settings, src: str, dst: str) -> None:
    """An empty database with src's encoding and collation (target of an online copy)."""
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database "
            "WHERE datname = %s",
            (src,),
        )
        encoding, collate, ctype = cr.fetchone()
        try:
            cr.execute(
                sql.SQL(
                    "CREATE DATABASE {} ENCODING {} LC_COLLATE {} LC_CTYPE {} TEMPLATE template0"
                ).format(
                    ident(dst), sql.Literal(encoding), sql.Literal(collate), sql.Literal(ctype)
                )
            )
        except psycopg2.Error as exc:
            raise SaasError(f"creating {dst} failed: {first_line(exc)}") from exc
    _give_role(settings, dst)


def copy_online(settings: Settings, src: str, dst: str) -> None:
    """Copy src into a new dst with pg_dump | psql: src's sessions keep working meanwhile.

    pg_dump reads one consistent snapshot; psql loads it in one transaction and stops at the
    first error. dst is created here and dropped again if anything fails.
    """
    # tools (subprocess, tempfile ...) only here: creating or claiming a tenant never runs
    # pg_dump (start-up cost of every provisioning)
    from odoo_saas_tools.postgres import tools as pgtools

    create_empty_like(settings, src, dst)
    try:
        dump = pgtools.pg_dump_popen(settings, src, fmt="plain")
        try:
            load = pgtools.psql_popen(settings, dst, stdin=dump.stdout)
        except BaseException:
            pgtools.kill(dump)
            raise
        assert dump.stdout is not None
        dump.stdout.close()  # psql owns the pipe now; pg_dump sees EPIPE if psql dies
        try:
            pgtools.wait(load, settings)
        except BaseException:
            pgtools.kill(dump)
            raise
        pgtools.wait(dump, settings)
    except BaseException:
        drop(settings, dst)
        raise


def drop(settings: Settings, name: str, *, attempts: int = 5) -> bool:
    """Disconnect everyone and DROP DATABASE name (templates are un-templated first).

    Returns False when it did not exist. Retries when a client reconnects in between.
    """
    for attempt in range(attempts):
        with connect(settings) as conn, conn.cursor() as cr:
            cr.execute("SELECT datistemplate FROM pg_database WHERE datname = %s", (name,))
            row = cr.fetchone()
            if row is None:
                return False
            if row[0]:
                cr.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(ident(name)))
            cr.execute(TERMINATE_SQL, (name,))
            try:
                cr.execute(sql.SQL("DROP DATABASE {}").format(ident(name)))
                roles.drop(settings, name)
                return True
            except psycopg2.errors.ObjectInUse:
                if attempt == attempts - 1:
                    raise SaasError(f"cannot drop {name}: clients keep reconnecting") from None
            except psycopg2.Error as exc:
                raise SaasError(f"dropping {name} failed: {first_line(exc)}") from exc
        time.sleep(0.2 * (attempt + 1))
    return False


def rename(settings: Settings, old: str, new: str, *, attempts: int = 5) -> None:
    """ALTER DATABASE old RENAME TO new, disconnecting old's sessions (as Odoo does); its role
    is renamed and reset in the same transaction (postgres/roles.py)."""
    for attempt in range(attempts):
        terminate(settings, old)
        with connect(settings) as conn, conn.cursor() as cr:
            try:
                rename_on(cr, settings, old, new)
                return
            except psycopg2.errors.ObjectInUse:
                if attempt == attempts - 1:
                    raise SaasError(f"cannot rename {old}: clients keep reconnecting") from None
            except psycopg2.Error as exc:
                raise SaasError(f"renaming {old} to {new} failed: {first_line(exc)}") from exc
        time.sleep(0.2 * (attempt + 1))


_KEEP = object()  # rename_on: the comment stays as it is


def rename_on(
    cr: psycopg2.extensions.cursor,
    settings: Settings,
    old: str,
    new: str,
    comment: str | object | None = _KEEP,
) -> None:
    """The rename, its role's, and new's comment if given (None: removed), in one
    transaction on an autocommit session's cursor. psycopg2's error is raised as it is: the
    caller tells a lost race (InvalidCatalogName, ObjectInUse) from a failure."""
    cr.execute("BEGIN")
    try:
        cr.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(ident(old), ident(new)))
        roles.rename(cr, settings, old, new)
        if comment is not _KEEP:
            cr.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(ident(new), sql.Literal(comment))
            )
    except BaseException:
        cr.execute("ROLLBACK")
        raise
    cr.execute("COMMIT")


def set_template(settings: Settings, name: str, comment: str | None = None) -> None:
    """Mark name as a template nobody connects to (so copying it never waits for users)."""
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute(
            sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(
                ident(name)
            )
        )
    if comment is not None:
        set_comment(settings, name, comment)


def set_comment(
    settings: Settings,
    name: str,
    comment: str,
    *,
    conn: psycopg2.extensions.connection | None = None,
) -> None:
    """Metadata kept on the database itself (readable without connecting to it). On conn if
    given (in its transaction, if it has one open)."""
    with server_session(settings, conn) as session, session.cursor() as cr:
        cr.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(ident(name), sql.Literal(comment))
        )


def journal(operation: str, tenant: str, role: str, **extra: str) -> str:
    """The comment a hidden database carries, so a later sweep knows whose it is and what to
    do when the operation that made it was killed (SIGKILL, a PostgreSQL restart)."""
    return json.dumps({"odoo_saas": operation, "tenant": tenant, "role": role, **extra})


def clear_comment(settings: Settings, name: str) -> None:
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute(sql.SQL("COMMENT ON DATABASE {} IS NULL").format(ident(name)))


def wait_until_unused(
    settings: Settings,
    name: str,
    *,
    conn: psycopg2.extensions.connection | None = None,
    timeout: float = 2.0,
) -> None:
    """Return once no session is connected to name, or after timeout. A closed connection's
    backend exits a moment after its client has gone; a RENAME or DROP finding it still there
    waits 100 ms before it looks again (measured: 2 renames in 10 right after a tenant's setup
    took 101 ms instead of 0.6). Polled every millisecond, on conn if given."""
    deadline = time.monotonic() + timeout
    with server_session(settings, conn) as session, session.cursor() as cr:
        while True:
            cr.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,))
            if not cr.fetchone()[0] or time.monotonic() > deadline:
                return
            time.sleep(0.001)


def rename_with_comment(
    settings: Settings,
    old: str,
    new: str,
    comment: str | None,
    *,
    conn: psycopg2.extensions.connection | None = None,
) -> None:
    """ALTER DATABASE old RENAME TO new (its role following) and new's comment set (None:
    removed), in one transaction: a journal appears or goes with the name it explains, so a
    kill never leaves one without the other. On conn (autocommit) if given."""
    with server_session(settings, conn) as session, session.cursor() as cr:
        rename_on(cr, settings, old, new, comment)


def comments(
    settings: Settings, prefix: str, *, conn: psycopg2.extensions.connection | None = None
) -> dict[str, str]:
    """{database: comment} of databases whose name starts with prefix (on conn if given)."""
    with server_session(settings, conn) as session, session.cursor() as cr:
        cr.execute(
            """
            SELECT d.datname, coalesce(shobj_description(d.oid, 'pg_database'), '')
              FROM pg_database d WHERE starts_with(d.datname, %s)
             ORDER BY d.datname
            """,
            (prefix,),
        )
        return dict(cr.fetchall())


def drop_quietly(settings: Settings, name: str) -> None:
    """Cleanup after a failure: drop name, logging (not raising) if that fails too."""
    with contextlib.suppress(SaasError):
        try:
            drop(settings, name)
        except SaasError as exc:
            log.error("could not remove %s after the failure: %s", name, exc)
            raise
