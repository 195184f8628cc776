"""The per-tenant lock that every operation on a tenant takes (create, clone, backup, drop ...)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.locks import HeldLock, advisory_lock


class HeldLocks:
    """Several tenants' locks; ensure_held() checks every one."""

    def __init__(self, locks: list[HeldLock]) -> None:
        self.locks = locks

    def ensure_held(self, step: str) -> None:
        for lock in self.locks:
            lock.ensure_held(step)


@contextlib.contextmanager
def tenant_lock(
    settings: Settings, name: str, *, operation: str = "operation"
) -> Iterator[HeldLock]:
    """Tenant name's lock for the whole operation; BusyError at once when it is taken."""
    busy = (
        f"{name} is busy: another odoo-saas operation on this tenant is running; "
        f"try the {operation} again when it has finished"
    )
    with advisory_lock(settings, name, busy=busy) as lock:
        yield lock


@contextlib.contextmanager
def tenant_locks(
    settings: Settings, *names: str, operation: str = "operation"
) -> Iterator[HeldLocks]:
    """Several tenants' locks, taken in a fixed order so two operations cannot deadlock."""
    with contextlib.ExitStack() as stack:
        held = [
            stack.enter_context(tenant_lock(settings, name, operation=operation))
            for name in sorted(set(names))
        ]
        yield HeldLocks(held)
