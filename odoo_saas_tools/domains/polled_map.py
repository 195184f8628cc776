"""The verified custom domains (domain -> tenant) as one process sees them: read from the
catalog's `odoo_domain` view, kept in memory, read again only when the catalog's change counter
(`odoo_version`) moved, and that counter looked at no more than once per `poll` seconds.

Plain Python on purpose (the standard library and a DB-API connection): Odoo's tenancy addon
loads this file by path, in Odoo's own Python, for its routing; the API's TLS ask endpoint uses
it too. A lookup is a dict access; at most once a second one request pays one small query
(a change reaches every process within `poll` seconds of its next request).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

_logger = logging.getLogger(__name__)

CATALOG_DATABASE = "odoo_saas_catalog"  # core.settings.CATALOG_DATABASE (this file imports none)
VERSION_SQL = "SELECT version FROM odoo_version"
MAP_SQL = "SELECT domain, tenant FROM odoo_domain"


def normalize_host(host: str | None) -> str:
    """A Host header as stored domains are written: no port, no trailing dot, lowercase.
    `[::1]:8069` -> `::1`; anything with a space or a slash is returned empty (no match)."""
    text = (host or "").strip().lower()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    text = text.rstrip(".")
    return "" if any(c in text for c in " /\\@\t") else text


class PolledMap:
    """domain -> tenant, refreshed when the catalog says it changed (see the module's text).

    connect: returns a new DB-API connection to the catalog (as a role that may read the
    `odoo_*` views); one is kept per process (a fork makes its own) and replaced after an error.
    """

    def __init__(self, connect: Callable[[], Any], poll: float = 1.0) -> None:
        self._connect = connect
        self.poll = poll
        self.domains: dict[str, str] = {}
        self.version: int | None = None
        self._checked = float("-inf")
        self._conn: Any = None
        self._pid = 0
        self._lock = threading.Lock()
        self._failing = False

    def get(self) -> dict[str, str]:
        """The current map; one request a second re-checks the counter, the others never wait
        for it (they use the map as it is while one thread reads)."""
        if time.monotonic() - self._checked >= self.poll and self._lock.acquire(blocking=False):
            try:
                if time.monotonic() - self._checked >= self.poll:
                    self._refresh()
            finally:
                self._lock.release()
        return self.domains

    def tenant_of(self, host: str | None) -> str | None:
        return self.get().get(normalize_host(host))

    def _refresh(self) -> None:
        self._checked = time.monotonic()
        try:
            cr = self._cursor()
            cr.execute(VERSION_SQL)
            version = cr.fetchone()[0]
            if version != self.version:
                cr.execute(MAP_SQL)
                self.domains = {domain: tenant for domain, tenant in cr.fetchall()}
                self.version = version
            cr.close()
            if self._failing:
                _logger.info("custom domains read again from the catalog")
            self._failing = False
        except Exception as exc:  # the catalog down or missing: keep the last map, say it once
            self._drop_connection()
            if not self._failing:
                _logger.warning(
                    "cannot read custom domains from the catalog %s (%s): keeping the %d known",
                    CATALOG_DATABASE,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                    len(self.domains),
                )
            self._failing = True

    def _cursor(self) -> Any:
        if self._conn is None or self._pid != os.getpid():
            self._conn = self._connect()  # a fork never uses its parent's socket
            self._pid = os.getpid()
            self._conn.autocommit = True
        return self._conn.cursor()

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._pid == os.getpid():
            with contextlib.suppress(Exception):  # already broken; a new one comes next time
                conn.close()
