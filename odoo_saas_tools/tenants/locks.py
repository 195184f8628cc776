"""The per-tenant lock that every operation on a tenant takes (create, clone, backup, drop ...)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import psycopg2.extensions

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.locks import HeldLock, advisory_lock, advisory_locks


class HeldLocks:
    """Several tenants' locks held by one session; ensure_held() checks every one."""

    def __init__(self, locks: list[HeldLock]) -> None:
        self.locks = locks

    @property
    def session(self) -> psycopg2.extensions.connection:
        """The locks' own autocommit session to the postgres database: the operation's checks
        run on it instead of starting a backend each."""
        return self.locks[0].conn

    def ensure_held(self, step: str) -> None:
        for lock in self.locks:
            lock.ensure_held(step)


def _busy(operation: str) -> Callable[[str], str]:
    def message(name: str) -> str:
        return (
            f"{name} is busy: another odoo-saas operation on this tenant is running; "
            f"try the {operation} again when it has finished"
        )

    return message


@contextlib.contextmanager
def tenant_lock(
    settings: Settings, name: str, *, operation: str = "operation"
) -> Iterator[HeldLock]:
    """Tenant name's lock for the whole operation; BusyError at once when it is taken."""
    with advisory_lock(settings, name, busy=_busy(operation)(name)) as lock:
        yield lock


@contextlib.contextmanager
def tenant_locks(
    settings: Settings, *names: str, operation: str = "operation"
) -> Iterator[HeldLocks]:
    """Several tenants' locks, on one session, taken all at once (none waits, so no two
    operations can deadlock)."""
    with advisory_locks(settings, sorted(set(names)), busy=_busy(operation)) as locks:
        yield HeldLocks(locks)
