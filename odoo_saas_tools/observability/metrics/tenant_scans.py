"""A look inside each tenant (Odoo version, overdue scheduled actions, active internal users),
pass after pass.

Only this look needs a connection to each tenant; it runs in the background refresh, never
during a scrape. A tenant nobody wrote to since its last look (postgres.write_counters) is not
looked into again: its version changes by writes only, and its overdue actions are counted again,
at the server's time, from the next calls it had. A pass over 500 tenants is then one query
instead of 500 backend starts (~5 s of PostgreSQL's CPU on 2 cores).

What the passes learnt is also kept in settings.state_dir, for as long as the counters live, so
the first pass after the exporter starts (a restarted container, a new pod) does not pay those
5 s either. Nothing in it is secret: database names, versions, next-call times. It may only
spare a look, never decide a figure: each user keeps its own file, read only when that user
owns it and nobody else can write it (the runtime user can write the data volume; root runs
`metrics show`), and an entry of another shape is looked into again.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg2

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.files import atomic_write, read_trusted_json
from odoo_saas_tools.core.odoo_series import is_current
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.observability.metrics.database import session
from odoo_saas_tools.postgres import write_counters
from odoo_saas_tools.postgres.connection import servable_databases

log = logging.getLogger(__name__)

SCAN_THREADS = 4
# A scheduled action whose next call is this far in the past is not merely queued: cron
# workers are stuck, disabled or overloaded.
CRON_OVERDUE_SECONDS = 3600


@dataclass(frozen=True)
class TenantScan:
    """What one look inside a tenant database tells."""

    version: str | None  # base's latest_version, None when not an Odoo database
    cron_overdue: int
    # the active scheduled actions' next calls (epoch seconds, the server's clock), so that a
    # tenant nobody wrote to since is counted again without a connection
    cron_nextcalls: tuple[float, ...] = ()
    key: str | None = None  # its write counters' key before this look; None: look next time
    internal_users: int | None = None  # active internal users (what a plan's max_users counts)

    def at(self, now: float) -> TenantScan:
        """The same scan, its overdue actions counted at `now`."""
        late = sum(1 for call in self.cron_nextcalls if call < now - CRON_OVERDUE_SECONDS)
        return replace(self, cron_overdue=late)


_VERSION = "(SELECT latest_version FROM ir_module_module WHERE name = 'base')"
# nextcall is stored as naive UTC, like every Odoo datetime: its epoch is UTC's
_CALLS = (
    "ARRAY(SELECT extract(epoch FROM nextcall) FROM ir_cron WHERE active AND nextcall IS NOT NULL)"
)
# as Odoo Online counts users: active and internal (share is false for base.group_user's)
_USERS = "(SELECT count(*) FROM res_users WHERE active AND NOT share)"


def scan_tenant(settings: Settings, dbname: str, key: str | None = None) -> TenantScan:
    """Odoo version and the active scheduled actions' next calls, in two queries.

    A database is Odoo's when it has ir_module_module (as postgres.base_version decides).
    """
    with session(settings, dbname) as cr:
        cr.execute(
            "SELECT to_regclass('ir_module_module') IS NOT NULL, "
            "to_regclass('ir_cron') IS NOT NULL, extract(epoch FROM now()), "
            "EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('res_users') "
            "AND attname = 'share')"
        )
        is_odoo, has_cron, now, has_users = cr.fetchone()
        if not is_odoo:
            return TenantScan(None, 0, key=key)
        calls = _CALLS if has_cron else "'{}'::numeric[]"
        users = _USERS if has_users else "NULL"
        cr.execute(f"SELECT {_VERSION}, {calls}, {users}")
        version, nextcalls, internal_users = cr.fetchone()
        found = tuple(sorted(float(call) for call in nextcalls))
        return TenantScan(version or None, 0, found, key, internal_users).at(float(now))


def scans_path(settings: Settings) -> Path:
    """This user's kept scans: root's (`metrics show` from `docker exec`) and the exporter's
    never share a file."""
    return settings.state_dir / f"metrics-tenant-scans-{os.geteuid()}.json"


class TenantScanner:
    """Runs the passes; remembers every database's last scan, Odoo 19 or not, between them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = scans_path(settings)
        self._scans: dict[str, TenantScan] | None = None  # None: not read from the file yet
        self._lifetime: str | None = None

    def candidates(self) -> list[str]:
        """The databases this stack may serve, Odoo 19 or not (as postgres.tenant_databases)."""
        return servable_databases(self.settings)

    def scan(self, candidates: list[str] | None = None) -> dict[str, TenantScan]:
        """The Odoo 19 databases among candidates (by default this stack's), with their scans.
        A known tenant that cannot be looked into this time (too many connections, say) keeps
        its previous scan rather than vanishing."""
        s = self.settings
        if candidates is None:
            candidates = self.candidates()
        # read before the looks: a write during a look makes the next pass look again
        with session(s) as cr:
            counters = write_counters.read(cr, s, candidates)
        if self._scans is None or counters.lifetime != self._lifetime:
            self._scans = _load(self.path, counters.lifetime)
        previous, now = self._scans, counters.now

        def one(name: str) -> tuple[TenantScan | None, bool]:
            known, key = previous.get(name), counters.keys.get(name)
            if known is not None and key is not None and known.key == key:
                return known.at(now), False
            try:
                return scan_tenant(s, name, key if counters.lifetime else None), True
            except SaasError as exc:  # dropped meanwhile, or refusing connections
                log.debug("skipping %s: %s", name, exc)
            except psycopg2.Error as exc:
                log.warning("cannot inspect %s: %s", name, str(exc).strip().splitlines()[0])
            return _kept(previous.get(name), now), True

        with ThreadPoolExecutor(SCAN_THREADS) as pool:
            results = dict(zip(candidates, pool.map(one, candidates), strict=True))
        scans = {name: scan for name, (scan, _) in results.items() if scan is not None}
        looked = any(fresh for _, fresh in results.values())
        self._scans, self._lifetime = scans, counters.lifetime
        if counters.lifetime and (looked or scans.keys() != previous.keys()):
            _save(self.path, counters.lifetime, scans)
        return {name: scan for name, scan in scans.items() if is_current(scan.version)}


def _kept(scan: TenantScan | None, now: float) -> TenantScan | None:
    """A previous scan kept for a tenant that could not be looked into; looked into next time."""
    return None if scan is None else replace(scan.at(now), key=None)


def _load(path: Path, lifetime: str | None) -> dict[str, TenantScan]:
    """The scans kept in path while the counters they were keyed by still live; an entry of
    another shape is absent (looked into again), a file this user did not write is not read."""
    if lifetime is None:
        return {}
    data = read_trusted_json(path, {os.geteuid()})
    if not isinstance(data, dict) or data.get("lifetime") != lifetime:
        return {}
    tenants = data.get("tenants")
    if not isinstance(tenants, dict):
        return {}
    found = {name: _scan_of(entry) for name, entry in tenants.items()}
    return {name: scan for name, scan in found.items() if scan is not None}


def _scan_of(entry: object) -> TenantScan | None:
    """entry as a scan when every field has the type we write, else None."""
    if not isinstance(entry, dict) or "version" not in entry:
        return None
    key, version, calls = entry.get("key"), entry["version"], entry.get("nextcalls")
    if not isinstance(key, str) or not (version is None or isinstance(version, str)):
        return None
    users = entry.get("users", False)  # absent (an older file): looked into again
    if not (users is None or (type(users) is int and 0 <= users < 2**31)):
        return None
    # epoch seconds as extract() gives them; NaN, infinities and huge ints compare False
    if not isinstance(calls, list) or not all(
        type(call) in (int, float) and -(2**53) < call < 2**53 for call in calls
    ):
        return None
    return TenantScan(version, 0, tuple(sorted(float(call) for call in calls)), key, users)


def _save(path: Path, lifetime: str, scans: Mapping[str, TenantScan]) -> None:
    tenants = {
        name: {
            "key": scan.key,
            "version": scan.version,
            "nextcalls": list(scan.cron_nextcalls),
            "users": scan.internal_users,
        }
        for name, scan in scans.items()
        if scan.key is not None
    }
    data = json.dumps({"lifetime": lifetime, "tenants": tenants}, separators=(",", ":"))
    try:
        atomic_write(path, data)
    except OSError as exc:  # a read-only data volume costs the next start time, not figures
        log.debug("cannot keep the tenant scans in %s: %s", path, exc.strerror)
