"""Copies of a whole database: by template (0.6 s for 90 MB), by template while Odoo serves
the source (its idle pooled sessions released, new ones held for a moment), and online
(pg_dump | psql, the source's users keep working).

`CREATE DATABASE ... TEMPLATE` (PostgreSQL 15's WAL_LOG strategy) needs the source to itself:
SourceBusy says when it cannot have it, and the caller then tries the next way (tenants/clone.py).
Every copy ends with the copy's own role taking over from the source's (postgres/roles.py), or
with the copy dropped again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from odoo_saas_tools.core import tenant_roles
from odoo_saas_tools.core.errors import SaasError, first_line
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases, roles
from odoo_saas_tools.postgres.connection import connect, ident, server_session

log = logging.getLogger(__name__)


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
        databases.drop_quietly(settings, dst)
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
        released = _release_idle_first(cr, args)

        def create() -> None:
            try:
                copy_by_template(settings, src, dst, conn=creator, hand_over=False)
                outcome.append(None)
            except BaseException as exc:  # handed to the calling thread
                outcome.append(exc)

        thread = threading.Thread(target=create, name=f"create {dst}", daemon=True)
        started = time.monotonic()
        thread.start()
        try:
            more, reason = _watch_copy(cr, thread, args, started, wait=wait, hold=hold)
            released += more
        except BaseException:
            with contextlib.suppress(psycopg2.Error):
                creator.cancel()
            thread.join()
            if outcome == [None]:
                databases.drop_quietly(settings, dst)
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


def _release_idle_first(cr: psycopg2.extensions.cursor, args: dict[str, object]) -> int:
    """Release src's idle pooled sessions, and see them gone, before CREATE DATABASE looks: it
    re-checks only every 100 ms (pg_terminate_backend's own timeout waits in steps of 100 ms
    too). Returns how many were released."""
    cr.execute(_RELEASE_IDLE_SQL, args)
    pids = cr.fetchone()[0]
    gone_by = time.monotonic() + 0.2
    while pids and time.monotonic() < gone_by:
        time.sleep(0.005)
        cr.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,))
        if not cr.fetchone()[0]:
            break
    return len(pids)


def _watch_copy(
    cr: psycopg2.extensions.cursor,
    thread: threading.Thread,
    args: dict[str, object],
    started: float,
    *,
    wait: float,
    hold: float,
) -> tuple[int, str]:
    """While the copy runs: release idle pooled sessions as they appear, and cancel the copy
    (args["creator"]) when a session stays too long or the copy holds src's users too long.
    Returns (sessions released, why the copy was cancelled or "")."""
    released = 0
    reason = ""
    while thread.is_alive():
        cr.execute(_RELEASE_IDLE_SQL, args)
        released += len(cr.fetchone()[0])
        cr.execute(_SESSIONS_SQL, args)
        others, pooled = cr.fetchone()
        elapsed = time.monotonic() - started
        if others or (pooled and elapsed > wait):
            reason = f"{args['db']} stayed in use for more than {wait:g} s"
        elif elapsed > hold:
            reason = f"copying {args['db']} would hold its users more than {hold:g} s"
        if reason:  # stop holding src's new connections
            cr.execute("SELECT pg_cancel_backend(%s)", (args["creator"],))
            break
        thread.join(0.03)
    return released, reason


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
    databases.give_role(settings, dst)


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
        databases.drop(settings, dst)
        raise
