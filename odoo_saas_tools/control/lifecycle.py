"""The lifecycle loop's turn: trials that ended and storage over a plan's limit.

`tick(settings, now)` is called by the api process's background loop and by `odoo-saas tenant
lifecycle` (cron-able). It reads the facts (the plans, every tenant's catalog row, its database
and filestore size as `db list` measures them), `decide` turns them into actions with no I/O
and no clock of its own (a test drives it with any `now`), and each action is applied in its
own catalog transaction that checks the row again under its lock: two loops at once (two api
replicas) act once.

- A trial whose end has passed: `trial.ended`, then the tenant is suspended (`tenant.suspended`,
  cause `trial`), once; a tenant resumed afterwards stays resumed.
- Storage (database + filestore) over max_storage_mb: `quota.exceeded` once when it goes over,
  and a suspension (cause `storage`) if the plan says suspend_over_storage. Back under the
  limit it is forgotten, so the next time over tells again; a resumed tenant still over the
  limit is not suspended again until it has been under.
- Tenants without a catalog row (made by `db create`, a restore, a clone) get one (plan
  `default`), and the plans' limits are mirrored into the catalog: an edited plans file
  reaches Odoo at the next turn.
- Each tenant's database and filestore size (the figures storage is judged on) is kept once a
  day (UTC) in `tenant_size`, for the console's chart (`GET /v1/tenants/{name}/sizes`); rows
  older than KEEP_DAYS go.
- Events older than EVENTS_KEEP_DAYS whose webhook deliveries ended (delivered or given up) go,
  with those deliveries: the outbox does not grow for ever.
- Scheduled backups' successes and failures are told as webhooks (control.backup_watch).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg2

from odoo_saas_tools.catalog import events as catalog_events
from odoo_saas_tools.catalog import sizes as catalog_sizes
from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.control import backup_watch, events, plans
from odoo_saas_tools.control.suspension import set_state
from odoo_saas_tools.core.errors import SaasError, first_line
from odoo_saas_tools.core.reserved import RESERVED_PREFIX
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants import listing
from odoo_saas_tools.tenants.identity import tenant_label

log = logging.getLogger(__name__)

MB = 1024 * 1024
TRIAL_REASON = "trial ended"
STORAGE_REASON = "storage over the plan's limit"
TRIAL_ENDED, STORAGE_OVER, STORAGE_UNDER = "trial_ended", "storage_over", "storage_under"
KEEP_DAYS = 400  # of size history
EVENTS_KEEP_DAYS = 90  # of events and their webhook deliveries, once delivered or given up


@dataclass(frozen=True)
class Facts:
    """What decide needs of one tenant."""

    row: catalog_tenants.Row
    plan: plans.Plan | None  # None: a plan the file no longer declares
    storage_bytes: int | None  # None: not measured (a damaged tenant)


@dataclass(frozen=True)
class Action:
    kind: str
    database: str
    suspend: bool = False
    payload: dict = field(default_factory=dict)


def decide(facts: list[Facts], now: dt.datetime) -> list[Action]:
    """What to do, from the facts alone (pure)."""
    actions: list[Action] = []
    for f in facts:
        row = f.row
        ends = row.trial_ends_at
        if ends is not None and row.trial_ended_at is None and now >= ends:
            payload = {"plan": row.plan, "trial_ends_at": ends.isoformat()}
            actions.append(Action(TRIAL_ENDED, row.name, True, payload))
        if f.plan is None or f.plan.max_storage_mb is None or f.storage_bytes is None:
            continue
        limit = f.plan.max_storage_mb * MB
        over = f.storage_bytes > limit
        if over and row.storage_exceeded_at is None:
            payload = {
                "resource": "storage",
                "plan": row.plan,
                "used_bytes": f.storage_bytes,
                "limit_bytes": limit,
                "ratio": round(f.storage_bytes / limit, 3),
            }
            actions.append(Action(STORAGE_OVER, row.name, f.plan.suspend_over_storage, payload))
        elif not over and row.storage_exceeded_at is not None:
            actions.append(Action(STORAGE_UNDER, row.name))
    return actions


def sizes_due(
    measured: dict[str, tuple[int, int]], sampled: set[str], day: dt.date
) -> list[catalog_sizes.Size]:
    """Day's size rows still to write (pure): each measured tenant (database -> database and
    filestore bytes) that has none yet."""
    return [
        catalog_sizes.Size(name, day, db_bytes, filestore_bytes)
        for name, (db_bytes, filestore_bytes) in sorted(measured.items())
        if name not in sampled
    ]


def tick(settings: Settings, now: dt.datetime | None = None) -> dict:
    """One turn of the loop; what it did, for the log line or --json."""
    try:
        return _tick(settings, now)
    except psycopg2.Error as exc:
        raise SaasError(f"lifecycle turn failed in PostgreSQL: {first_line(exc)}") from exc


def _tick(settings: Settings, now: dt.datetime | None) -> dict:
    started = time.monotonic()
    now = now or dt.datetime.now(dt.timezone.utc)
    declared = plans.available(settings)
    plans.mirror(settings, force=True)  # whatever else wrote the catalog's copy meanwhile
    rows = [
        r for r in listing.tenants(settings) if not r.name.startswith(RESERVED_PREFIX)
    ]  # what killed operations left is listed under hidden names: not tenants
    measured = {
        r.name: (r.db_size_bytes, r.filestore_bytes)
        for r in rows
        if r.state not in ("unreachable", "damaged", "not-odoo")
    }
    sizes = {name: db + files for name, (db, files) in measured.items()}
    with store.session(settings) as cr:
        added = catalog_tenants.add_missing(cr, sorted(r.name for r in rows))
        if added:
            store.bump(cr)
        present = {r.name for r in rows}
        records = [t for name, t in sorted(catalog_tenants.all_rows(cr).items()) if name in present]
    facts = [Facts(t, declared.get(t.plan), sizes.get(t.name)) for t in records]
    done: dict[str, list[str]] = {TRIAL_ENDED: [], STORAGE_OVER: [], STORAGE_UNDER: []}
    suspended: list[str] = []
    failed: dict[str, str] = {}
    for action in decide(facts, now):
        try:
            applied, suspended_now = _apply(settings, action, now)
        except (SaasError, psycopg2.Error) as exc:  # one tenant's trouble stops no other's
            failed[action.database] = first_line(exc)
            log.warning("%s: %s failed: %s", action.database, action.kind, first_line(exc))
            continue
        if applied:
            done[action.kind].append(action.database)
            log.info("%s: %s", action.database, action.kind.replace("_", " "))
        if suspended_now:
            suspended.append(action.database)
    # the turn's chores: one failing is said and tried again next turn, stopping no other
    sampled = _chore("sampling the tenants' sizes", lambda: _sample_sizes(settings, measured, now))
    forgotten = _chore("forgetting old events", lambda: _prune_events(settings))
    backups_told = _chore("telling the scheduled backups", lambda: backup_watch.watch(settings))
    undeclared = plans.undeclared_in_use(settings)
    for plan, count in undeclared.items():
        log.warning("plan %s is gone from the plans file; %d tenant(s) still on it", plan, count)
    return {
        "tenants": len(records),
        "registered": added,
        "trials_ended": done[TRIAL_ENDED],
        "storage_exceeded": done[STORAGE_OVER],
        "storage_back_under": done[STORAGE_UNDER],
        "suspended": suspended,
        "failed": failed,
        "undeclared_plans": undeclared,
        "sizes_sampled": sampled,
        "events_forgotten": forgotten,
        "backups_told": backups_told,
        "seconds": round(time.monotonic() - started, 3),
    }


def _chore(what: str, work: Callable[[], int]) -> int:
    """work's count, or 0 when it failed (said in one line)."""
    try:
        return work()
    except (SaasError, psycopg2.Error) as exc:
        log.warning("%s failed: %s", what, first_line(exc))
        return 0


def _sample_sizes(
    settings: Settings, measured: dict[str, tuple[int, int]], now: dt.datetime
) -> int:
    """Today's size rows of the tenants without one yet (and the oldest pruned), in one
    transaction; how many were written."""
    today = now.astimezone(dt.timezone.utc).date()
    with store.session(settings) as cr:
        due = sizes_due(measured, catalog_sizes.sampled_on(cr, today), today)
        if due:
            catalog_sizes.put(cr, due)
            catalog_sizes.prune(cr, today - dt.timedelta(days=KEEP_DAYS))
    return len(due)


def _prune_events(settings: Settings) -> int:
    """Events (and their deliveries) older than EVENTS_KEEP_DAYS whose deliveries ended: the
    outbox would otherwise grow for ever. By PostgreSQL's clock, which stamped them, not the
    turn's (a test's or a replay's)."""
    with store.session(settings) as cr:
        return catalog_events.prune(cr, dt.timedelta(days=EVENTS_KEEP_DAYS))


class Loop:
    """Turns every `every` seconds, until stop(): the api process's background loop (started
    with start(): its first turn a period after the start, which is no reason to measure every
    tenant) and `tenant lifecycle` without --once (run(): the first turn at once). Quiet unless
    a turn acted (tick logs each action) or failed, or report is given each turn's result."""

    def __init__(
        self, settings: Settings, every: float, report: Callable[[dict], None] | None = None
    ) -> None:
        self.settings = settings
        self.every = every
        self.report = report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="lifecycle", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait_seconds: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(wait_seconds)

    def run(self, *, first_now: bool = False) -> None:
        wait = 0.0 if first_now else self.every
        while not self._stop.wait(wait):
            started = time.monotonic()
            try:
                result = tick(self.settings)
            except SaasError as exc:  # a bad plans file or PostgreSQL away: said, tried again
                log.error("lifecycle turn failed: %s", first_line(exc))
            else:
                if self.report is not None:
                    self.report(result)
            wait = max(0.0, self.every - (time.monotonic() - started))


def _apply(settings: Settings, action: Action, now: dt.datetime) -> tuple[bool, bool]:
    """action in one transaction, if the row (locked) still calls for it: (applied, suspended)."""
    name = tenant_label(settings, action.database)
    with store.session(settings) as cr:
        row = catalog_tenants.get(cr, action.database, lock=True)
        if row is None:
            return False, False
        if action.kind == TRIAL_ENDED:
            if row.trial_ended_at is not None:
                return False, False
            catalog_tenants.set_trial_ended(cr, row.name, now)
            events.emit(cr, events.TRIAL_ENDED, row.name, {"name": name, **action.payload})
            cause, reason = "trial", TRIAL_REASON
        elif action.kind == STORAGE_OVER:
            if row.storage_exceeded_at is not None:
                return False, False
            catalog_tenants.set_storage_exceeded(cr, row.name, now)
            payload = {"name": name, **action.payload}
            events.emit(cr, events.QUOTA_EXCEEDED, row.name, payload)
            cause, reason = "storage", STORAGE_REASON
        else:
            catalog_tenants.set_storage_exceeded(cr, row.name, None)
            return row.storage_exceeded_at is not None, False
        suspended = False
        if action.suspend:
            suspended, _ = set_state(
                settings, cr, row.name, catalog_tenants.SUSPENDED, reason, cause=cause
            )
    return True, suspended
