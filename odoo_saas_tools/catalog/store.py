"""The catalog database: made and migrated by the management role, read by Odoo's role.

It is a database of the server (core.settings.SERVER_DATABASES), not a tenant's: connections
log in as the management role (or, where this process does not manage, as Odoo's role, which
may read its `odoo_*` views only). No tenant role may connect to it. Every change that Odoo's
routing must see bumps `change_counter`, which the tenancy addon polls (one integer) to know
when to read the routing again.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Iterator

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from odoo_saas_tools.catalog.schema import MIGRATIONS
from odoo_saas_tools.core.errors import ConfigError, SaasError, first_line
from odoo_saas_tools.core.settings import CATALOG_DATABASE, Settings
from odoo_saas_tools.postgres import databases, roles
from odoo_saas_tools.postgres.connection import connect, ident
from odoo_saas_tools.postgres.locks import advisory_lock

log = logging.getLogger(__name__)

NAME = CATALOG_DATABASE
_ready: set[tuple[str, int, str]] = set()  # servers whose catalog this process has migrated
LATEST = MIGRATIONS[-1][0]
_pools: dict[tuple[str, int, str], _Pool] = {}


@contextlib.contextmanager
def session(
    settings: Settings, *, autocommit: bool = False
) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor on the catalog, migrated first; committed when the block ends without error.
    From the process's pool when it keeps one (use_pool), else on a connection of its own."""
    pool = _pools.get(_key(settings))
    if pool is not None:
        ensure(settings)
        with pool.connection() as conn:
            conn.autocommit = autocommit
            with conn.cursor() as cr:
                yield cr
                if not autocommit:
                    conn.commit()
        return
    with contextlib.ExitStack() as stack:
        conn = _open(settings, stack, autocommit=autocommit, make=True)
        assert conn is not None
        with conn.cursor() as cr:
            yield cr
            if not autocommit:
                conn.commit()


@contextlib.contextmanager
def existing_session(settings: Settings) -> Iterator[psycopg2.extensions.cursor | None]:
    """session(), or None when there is no catalog yet: for readers (`db list`, the exporter,
    a drop) that must not make one just to find it empty."""
    with contextlib.ExitStack() as stack:
        conn = _open(settings, stack, autocommit=False, make=False)
        if conn is None:
            yield None
            return
        with conn.cursor() as cr:
            yield cr
            conn.commit()


def _open(
    settings: Settings, stack: contextlib.ExitStack, *, autocommit: bool, make: bool
) -> psycopg2.extensions.connection | None:
    """A connection to the catalog at the latest version (None: there is none and not make).
    A process's first one checks the version itself, so that a process that needs one
    session (a signup) opens one connection."""
    key = _key(settings)
    if key not in _ready:
        try:
            conn = stack.enter_context(connect(settings, NAME, autocommit=autocommit))
        except SaasError:
            if not make and not databases.exists(settings, NAME):
                return None
            ensure(settings)  # makes it (or says in one line why it cannot be reached)
        else:
            if _schema_version(settings, conn) >= LATEST:
                _ready.add(key)
                return conn
            conn.rollback()
            ensure(settings)  # an older catalog: migrated first
    return stack.enter_context(connect(settings, NAME, autocommit=autocommit))


def _schema_version(settings: Settings, conn: psycopg2.extensions.connection) -> int:
    """conn's catalog's schema version (0: not migrated yet). Odoo's role may not read it:
    where this process does not manage, the catalog is taken as it is."""
    if not settings.manages:
        return LATEST
    with conn.cursor() as cr:
        cr.execute("SELECT to_regclass('schema_version') IS NOT NULL")
        if not cr.fetchone()[0]:
            return 0
        cr.execute("SELECT coalesce(max(version), 0) FROM schema_version")
        return int(cr.fetchone()[0])


def use_pool(settings: Settings, size: int) -> None:
    """Keep up to size catalog connections open for this process's sessions (the API answers
    every call with a few catalog queries: a new connection costs more than all of them)."""
    _pools.setdefault(_key(settings), _Pool(settings, size))


class _Pool:
    """Open connections to the catalog, at most size at once; a caller waits for a free one.
    A connection that failed is closed, never handed out again."""

    def __init__(self, settings: Settings, size: int) -> None:
        self.settings = settings
        self.free: queue.LifoQueue[tuple[psycopg2.extensions.connection, contextlib.ExitStack]]
        self.free = queue.LifoQueue()
        self.slots = threading.BoundedSemaphore(size)

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        with self.slots:
            try:
                conn, stack = self.free.get_nowait()
            except queue.Empty:
                stack = contextlib.ExitStack()
                conn = stack.enter_context(connect(self.settings, NAME))
            try:
                yield conn
            finally:
                with contextlib.suppress(psycopg2.Error):
                    if not conn.closed:
                        conn.rollback()  # what an error left open; nothing after a commit
                idle = psycopg2.extensions.TRANSACTION_STATUS_IDLE
                if conn.closed or conn.get_transaction_status() != idle:
                    stack.close()
                else:
                    self.free.put((conn, stack))


def _key(settings: Settings) -> tuple[str, int, str]:
    return (settings.db_host, settings.db_port, settings.saas_db_user)


def bump(cr: psycopg2.extensions.cursor) -> None:
    """Tell Odoo's processes the routing changed (in the caller's transaction)."""
    cr.execute("UPDATE change_counter SET version = version + 1")


def ensure(settings: Settings) -> None:
    """The catalog exists at the latest schema version (made or migrated once per process)."""
    key = _key(settings)
    if key in _ready:
        return
    version = _version(settings)
    if version is not None and version >= LATEST:
        _ready.add(key)
        return
    if not settings.manages:
        if version is None:
            raise ConfigError(
                f"the catalog {NAME} does not exist yet: it is made by the management role "
                "(run `odoo-saas preflight --fix` with ODOO_SAAS_DB_PASSWORD)"
            )
        _ready.add(key)  # an older catalog: the management role migrates it
        return
    with advisory_lock(settings, NAME, busy="another process is migrating the catalog"):
        if not databases.exists(settings, NAME):
            _create(settings)
        _migrate(settings)
    _ready.add(key)


def _key(settings: Settings) -> tuple[str, int, str]:
    return (settings.db_host, settings.db_port, settings.saas_db_user)


def _version(settings: Settings) -> int | None:
    """The catalog's schema version, None when it does not exist."""
    try:
        with connect(settings, NAME) as conn:
            return _schema_version(settings, conn)
    except SaasError as exc:
        if databases.exists(settings, NAME):
            raise
        log.debug("no catalog yet: %s", exc)
        return None


def _create(settings: Settings) -> None:
    with connect(settings) as conn, conn.cursor() as cr:
        roles.check_management(cr, settings)
        try:
            cr.execute(
                sql.SQL("CREATE DATABASE {} ENCODING 'unicode' TEMPLATE template0").format(
                    ident(NAME)
                )
            )
        except psycopg2.Error as exc:
            raise SaasError(f"creating the catalog {NAME} failed: {first_line(exc)}") from exc
        # no tenant's role (PUBLIC) may connect; Odoo's role reads the views it is granted
        cr.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident(NAME)))
        cr.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                ident(NAME), ident(settings.db_user)
            )
        )
    log.info("created the catalog %s", NAME)


def _migrate(settings: Settings) -> None:
    with connect(settings, NAME, autocommit=False) as conn, conn.cursor() as cr:
        cr.execute("CREATE TABLE IF NOT EXISTS schema_version (version int NOT NULL)")
        cr.execute("SELECT max(version) FROM schema_version")
        current = cr.fetchone()[0] or 0
        for version, statements in MIGRATIONS:
            if version <= current:
                continue
            cr.execute(statements.replace("{odoo}", sql.Identifier(settings.db_user).as_string(cr)))
            cr.execute("INSERT INTO schema_version VALUES (%s)", (version,))
            log.info("catalog %s migrated to version %d", NAME, version)
        conn.commit()


def forget_migrated() -> None:
    """Tests that drop the catalog make the next use check it again."""
    _ready.clear()
