"""PostgreSQL advisory locks: the one lock every odoo-saas operation on a database takes.

The lock lives in PostgreSQL, so it also serialises commands run in other containers (replicas)
sharing the server, and it is released if the process dies. It dies with its session too: the
session is kept immune to idle timeouts and watched by TCP keepalives, and destructive steps call
`ensure_held()` first, so a lost lock aborts the operation before anything is destroyed.
"""

from __future__ import annotations

import contextlib
import logging
import zlib
from collections.abc import Iterator

import psycopg2

from odoo_saas_tools.core.errors import BusyError, SaasError, first_line
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import connect

log = logging.getLogger(__name__)

LOCK_NAMESPACE = 0x0D00  # first key of our two-key advisory locks


class LockLost(SaasError):
    """The lock's session ended (server restart, failover, a timeout): stop before destroying."""


# pg_locks shows a two-key advisory lock's keys as oids (unsigned)
HELD_SQL = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2"
    " AND classid = %s::oid AND objid = %s::oid"
)


def _oids(name: str) -> tuple[int, int]:
    return LOCK_NAMESPACE % 2**32, lock_key(name) % 2**32


def lock_key(name: str) -> int:
    """A stable signed 32-bit key for a name (advisory locks take integers)."""
    return zlib.crc32(name.encode()) - 2**31


class HeldLock:
    """An advisory lock held by its own session; ensure_held() proves it still is."""

    def __init__(self, conn: psycopg2.extensions.connection, name: str) -> None:
        self.conn = conn
        self.name = name
        self.key = (LOCK_NAMESPACE, lock_key(name))

    def ensure_held(self, step: str) -> None:
        """Raise LockLost unless this session is alive and holds the lock (before `step`)."""
        try:
            with self.conn.cursor() as cr:
                cr.execute(HELD_SQL + " AND pid = pg_backend_pid()", _oids(self.name))
                held = cr.fetchone()[0] > 0
        except psycopg2.Error as exc:
            raise LockLost(
                f"the lock on {self.name} was lost ({first_line(exc)}): {step} not done, "
                "nothing destroyed"
            ) from exc
        if not held:
            raise LockLost(f"the lock on {self.name} is no longer held: {step} not done")


@contextlib.contextmanager
def advisory_lock(
    settings: Settings,
    name: str,
    *,
    busy: str,
    wait_seconds: float | None = None,
    shared: bool = False,
) -> Iterator[HeldLock]:
    """Hold name's lock; BusyError(busy) when taken elsewhere (after wait_seconds, if given).

    shared: many holders at once, but none while someone holds it exclusively (copies of a
    template run side by side; its build or removal waits for them, and they for it).
    """
    mode = "_shared" if shared else ""
    with connect(settings, keepalive=True) as conn, conn.cursor() as cr:
        # A lock that silently dies with an idle session protects nothing.
        for setting in ("idle_session_timeout", "idle_in_transaction_session_timeout"):
            with contextlib.suppress(psycopg2.Error):  # idle_session_timeout: PostgreSQL 14+
                cr.execute(f"SET {setting} = 0")
        lock = HeldLock(conn, name)
        if wait_seconds is not None:
            cr.execute("SET lock_timeout = %s", (f"{int(wait_seconds)}s",))
            try:
                cr.execute(f"SELECT pg_advisory_lock{mode}(%s, %s)", lock.key)
            except psycopg2.errors.LockNotAvailable:
                raise BusyError(busy) from None
        else:
            cr.execute(f"SELECT pg_try_advisory_lock{mode}(%s, %s)", lock.key)
            if not cr.fetchone()[0]:
                raise BusyError(busy)
        try:
            yield lock
        finally:
            with contextlib.suppress(Exception):
                cr.execute(f"SELECT pg_advisory_unlock{mode}(%s, %s)", lock.key)


def is_locked(settings: Settings, name: str) -> bool:
    """Whether some session holds name's lock right now (without taking it)."""
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute(HELD_SQL, _oids(name))
        return cr.fetchone()[0] > 0
