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
from collections.abc import Callable, Iterator

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
def lock_session(settings: Settings) -> Iterator[psycopg2.extensions.connection]:
    """A session fit to hold locks: a lock that silently dies with an idle session protects
    nothing, so idle timeouts are off (one round trip) and TCP keepalives watch the peer."""
    with connect(settings, keepalive=True) as conn, conn.cursor() as cr:
        timeouts = ["idle_in_transaction_session_timeout"]
        if conn.server_version >= 140000:
            timeouts.append("idle_session_timeout")
        cr.execute("; ".join(f"SET {setting} = 0" for setting in timeouts))
        yield conn


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
    with lock_session(settings) as conn, conn.cursor() as cr:
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


@contextlib.contextmanager
def advisory_locks(
    settings: Settings, names: list[str], *, busy: Callable[[str], str]
) -> Iterator[list[HeldLock]]:
    """Several names' exclusive locks at once, on one session and in one round trip (a clone
    or a rename starts a backend less); BusyError(busy(name)) for the first one taken
    elsewhere, with none of them kept."""
    with lock_session(settings) as conn, conn.cursor() as cr:
        locks = [HeldLock(conn, name) for name in names]
        keys = [part for lock in locks for part in lock.key]
        try_all = ", ".join(["pg_try_advisory_lock(%s, %s)"] * len(locks))
        cr.execute(f"SELECT {try_all}", keys)
        taken = cr.fetchone()
        held = [lock for lock, ok in zip(locks, taken, strict=True) if ok]
        try:
            for lock, ok in zip(locks, taken, strict=True):
                if not ok:
                    raise BusyError(busy(lock.name))
            yield locks
        finally:
            if held:
                unlock_all = ", ".join(["pg_advisory_unlock(%s, %s)"] * len(held))
                with contextlib.suppress(Exception):
                    cr.execute(f"SELECT {unlock_all}", [part for lock in held for part in lock.key])


def is_locked(settings: Settings, name: str) -> bool:
    """Whether some session holds name's lock right now (without taking it)."""
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute(HELD_SQL, _oids(name))
        return cr.fetchone()[0] > 0
