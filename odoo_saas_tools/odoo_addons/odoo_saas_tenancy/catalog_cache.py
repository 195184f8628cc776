"""Each Odoo process's copy of what the catalog tells Odoo about tenants.

odoo-saas's catalog (odoo_saas_tools/catalog) holds each tenant's state (active or suspended)
and its plan's user limit; Odoo's role may read them through the `odoo_tenant` view, and
`odoo_version` (one integer) grows with every change. A request asks this copy (a dict lookup),
which asks PostgreSQL for the version at most once per second and reads the view again only when
it grew: a change reaches every worker within about a second of its next request (2 s at most)
and costs a request nothing in between. Other readers of the catalog (custom domains) register
their own loader with add(): one version poll serves all of them.

Until the catalog can be read (not made yet, PostgreSQL away) nothing is known: tenants are
served and their limits not applied, with one warning in the log when that starts and one line
when it ends; the last copy read stays in force meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import odoo.sql_db

_logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
SUSPENDED = "suspended"
_TENANTS = "tenants"
# only the tenants that need anything of Odoo: a pool of active, unlimited ones costs nothing
_TENANTS_SQL = (
    "SELECT name, state, state_reason, max_users FROM odoo_tenant "
    "WHERE state <> 'active' OR max_users IS NOT NULL"
)


@dataclass(frozen=True)
class Tenant:
    state: str
    reason: str
    max_users: int | None

    @property
    def suspended(self) -> bool:
        return self.state == SUSPENDED


Loader = Callable[[Any], object]  # (an Odoo cursor on the catalog) -> what to keep


def _load_tenants(cr: Any) -> dict[str, Tenant]:
    cr.execute(_TENANTS_SQL)
    rows = cr.fetchall()
    return {name: Tenant(state, reason or "", users) for name, state, reason, users in rows}


class CatalogCache:
    def __init__(
        self,
        catalog: str,
        *,
        poll_seconds: float = POLL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.catalog = catalog
        self.poll_seconds = poll_seconds
        self._clock = clock
        self._loaders: dict[str, Loader] = {_TENANTS: _load_tenants}
        self._data: dict[str, object] = {}
        self._version: int | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()
        self._failing: str | None = None

    def add(self, name: str, loader: Loader) -> None:
        """Keep loader's result too (read with get(name)); read at the next poll."""
        self._loaders[name] = loader
        self._version = None

    def get(self, name: str, default: object = None) -> object:
        self.refresh()
        return self._data.get(name, default)

    def tenant(self, db: str | None) -> Tenant | None:
        """What the catalog says of database db (None: active, no limit)."""
        if not db:
            return None
        tenants = self.get(_TENANTS)
        return tenants.get(db) if isinstance(tenants, dict) else None

    def suspended(self, db: str | None) -> bool:
        found = self.tenant(db)
        return found is not None and found.suspended

    def refresh(self) -> None:
        """Poll the version if the last poll is a second old. Another thread's poll is not
        waited for, unless nothing was read yet (a new worker must not serve blind)."""
        if self._clock() - self._checked < self.poll_seconds:
            return
        if not self._lock.acquire(blocking=self._version is None):
            return
        try:
            if self._clock() - self._checked < self.poll_seconds:
                return
            self._checked = self._clock()
            self._poll()
        finally:
            self._lock.release()

    def _poll(self) -> None:
        try:
            db = odoo.sql_db.db_connect(self.catalog)
            with closing(db.cursor()) as cr:
                cr.execute("SELECT version FROM odoo_version")
                (version,) = cr.fetchone()
                if version == self._version:
                    return
                data = {name: loader(cr) for name, loader in self._loaders.items()}
        except Exception as exc:  # whatever it is, requests go on being served
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            if self._failing != message:
                _logger.warning(
                    "the catalog %s cannot be read (%s): tenant suspensions and user limits "
                    "are not applied until it can",
                    self.catalog,
                    message,
                )
            self._failing = message
            return
        if self._failing is not None:
            _logger.info("the catalog %s is read again", self.catalog)
            self._failing = None
        self._data, self._version = data, version
