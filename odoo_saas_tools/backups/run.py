"""`backup run`: back up every tenant, copy off-site, prune; one failing tenant stops no other.

Each tenant is backed up under its tenant lock, so a scheduled backup never runs alongside a
manual restore, rename or drop of that tenant; a busy tenant counts as failed (its backup was
not taken, and the summary and status file say why). A backup whose off-site copy could not be
verified counts as failed too; its local file is kept and, since no `.offsite` marker was
written, the next run uploads it again (with any other kept backup still missing off-site).
Retention runs for a tenant only after its backup and off-site copy succeeded.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from odoo_saas_tools.backups import restic, s3
from odoo_saas_tools.backups import status as backup_status
from odoo_saas_tools.backups.names import (
    default_dir,
    mark_offsite,
    offsite_url,
    read_checksum,
    sweep_partials,
)
from odoo_saas_tools.backups.prune import local_backups, local_candidates, prune_tenant
from odoo_saas_tools.backups.retention import Policy, decide
from odoo_saas_tools.core.errors import BusyError, ConfigError, SaasError
from odoo_saas_tools.core.output import Progress, human_size
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import tenant_databases
from odoo_saas_tools.tenants.locks import tenant_lock

log = logging.getLogger(__name__)

# (settings, db, directory, fmt) -> object with .path, .sha256, .size_bytes, .duration_seconds
BackupFunc = Callable[[Settings, str, Path, str], Any]


@dataclass
class TenantOutcome:
    database: str
    state: str  # ok | failed | busy | interrupted
    error: str | None = None
    file: str | None = None
    size_bytes: int | None = None
    duration_seconds: float = 0.0
    offsite: str = "disabled"  # verified | failed | disabled
    uploaded: list[str] = field(default_factory=list)
    pruned_local: int = 0
    pruned_remote: int = 0
    added_bytes: int | None = None  # restic: what the run added to the repository
    repository_size_bytes: int | None = None  # restic: the repository after the run

    @property
    def ok(self) -> bool:
        return self.state == "ok"


@dataclass
class RunSummary:
    outcomes: list[TenantOutcome]
    duration_seconds: float
    interrupted: bool = False

    @property
    def failed(self) -> list[TenantOutcome]:
        return [o for o in self.outcomes if o.state in ("failed", "busy")]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted

    def line(self) -> str:
        """The one summary line a cron mail or a log reader sees."""
        n = len(self.outcomes)
        if n == 0:
            return "backup run: no tenant databases to back up"
        good = [o for o in self.outcomes if o.ok]
        size = sum(o.size_bytes or 0 for o in good)
        parts = [f"backup run: {len(good)}/{n} tenant(s) backed up"]
        parts.append(f"{human_size(size)} in {self.duration_seconds:.1f} s")
        offsite = [o for o in good if o.offsite == "verified"]
        if offsite:
            parts.append(f"{len(offsite)} verified off-site")
        added = [o.added_bytes for o in good if o.added_bytes is not None]
        if added:
            parts.append(f"{human_size(sum(added))} added to the restic repository")
        pruned = sum(o.pruned_local + o.pruned_remote for o in self.outcomes)
        if pruned:
            parts.append(f"{pruned} old backup(s) pruned")
        if self.failed:
            worst = "; ".join(f"{o.database}: {o.error}" for o in self.failed[:3])
            more = f" (+{len(self.failed) - 3} more)" if len(self.failed) > 3 else ""
            parts.append(f"FAILED {len(self.failed)}: {worst}{more}")
        if self.interrupted:
            parts.append("INTERRUPTED: remaining tenants not backed up")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "interrupted": self.interrupted,
            "duration_seconds": round(self.duration_seconds, 3),
            "tenants": [asdict(o) for o in self.outcomes],
            "summary": self.line(),
        }


@contextlib.contextmanager
def run_lock(settings: Settings) -> Iterator[None]:
    """One `backup run` at a time on this backup directory (scheduled or by hand)."""
    path = settings.backup_dir / ".run.lock"
    try:
        settings.backup_dir.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise SaasError(f"BACKUP_DIR {settings.backup_dir} is not usable: {exc.strerror}") from exc
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            raise BusyError(f"another backup run is in progress (pid {holder})") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fh.truncate(0)
            fcntl.flock(fh, fcntl.LOCK_UN)


def default_backup(settings: Settings, db: str, directory: Path, fmt: str) -> Any:
    from odoo_saas_tools.backups.backup import create_backup

    # run_all holds the tenant lock already (advisory locks are per connection).
    return create_backup(settings, db, directory, fmt, progress=False, lock=False)


def upload_missing(settings: Settings, db: str, client: Any) -> list[str]:
    """Upload every backup of db that the policy keeps and that has no verified copy yet."""
    policy = Policy.from_settings(settings)
    kept = decide(
        local_candidates(local_backups(settings, db)),
        policy,
        datetime.now(timezone.utc),
        ZoneInfo(settings.backup_tz),
    ).keep
    uploaded = []
    for path, _why in sorted(kept, key=lambda k: k[0].name):
        if read_checksum(path) is None:
            continue  # not a good backup: never shipped as one
        key = s3.key_for(settings, db, path.name)
        if offsite_url(path) == s3.url_for(settings, key):
            continue
        url = s3.upload(settings, path, db, s3=client)
        mark_offsite(path, url)
        uploaded.append(url)
    return uploaded


def back_up_tenant(
    settings: Settings,
    db: str,
    *,
    fmt: str,
    backup: BackupFunc,
    stop: threading.Event,
    client: Any = None,
) -> TenantOutcome:
    """One tenant: lock, back up, copy off-site, prune; record the status file."""
    outcome = TenantOutcome(db, "failed")
    if stop.is_set():
        outcome.state = "interrupted"
        return outcome
    started = time.monotonic()
    offsite_default = "failed" if settings.s3_enabled else "disabled"
    try:
        with tenant_lock(settings, db, operation="backup"):
            if restic.enabled(settings):
                _restic_tenant(settings, db, outcome, stop)
            else:
                directory = default_dir(settings, db)
                directory.mkdir(parents=True, exist_ok=True)
                result = backup(settings, db, directory, fmt)
                outcome.file = str(result.path)
                outcome.size_bytes = int(result.size_bytes)
                if stop.is_set():  # a complete local backup; its upload is left to the next run
                    raise SaasError("interrupted before the off-site copy")
                if settings.s3_enabled:
                    try:
                        outcome.uploaded = upload_missing(settings, db, client)
                    except SaasError as exc:
                        outcome.offsite = "failed"
                        raise SaasError(f"off-site copy failed (local file kept): {exc}") from exc
                    outcome.offsite = "verified"
                try:
                    pruned = prune_tenant(settings, db, remote=settings.s3_enabled, s3=client)
                except SaasError as exc:  # the backup itself is good; retention retries next run
                    log.warning("retention for %s failed: %s", db, exc)
                else:
                    outcome.pruned_local = len(pruned.deleted_local)
                    outcome.pruned_remote = len(pruned.deleted_remote)
        outcome.state = "ok"
    except BusyError as exc:
        outcome.state = "busy"
        outcome.error = str(exc)
    except Exception as exc:
        if stop.is_set():
            outcome.state = "interrupted"
            outcome.error = "interrupted"
        else:
            outcome.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if not isinstance(exc, SaasError):
                log.exception("backup of %s failed unexpectedly", db)
    outcome.duration_seconds = round(time.monotonic() - started, 3)
    if outcome.state == "interrupted":
        return outcome  # not the tenant's fault; the scheduler runs again at start
    if outcome.ok:
        log.info("backed up %s: %s", db, outcome.file)
    else:
        log.error("backup of %s failed: %s", db, outcome.error)
    with contextlib.suppress(ConfigError):  # a name no file may carry has no status file
        backup_status.record(
            settings,
            db,
            ok=outcome.ok,
            offsite=outcome.offsite if outcome.offsite != "disabled" else offsite_default,
            error=outcome.error,
            duration=outcome.duration_seconds,
            size=outcome.size_bytes,
            file=Path(outcome.file) if outcome.file else None,
            added=outcome.added_bytes,
            repository_size=outcome.repository_size_bytes,
        )
    return outcome


def _restic_tenant(
    settings: Settings, db: str, outcome: TenantOutcome, stop: threading.Event
) -> None:
    """BACKUP_OFFSITE=restic: a snapshot in the repository is the backup; then retention."""
    outcome.offsite = "failed"
    result = restic.back_up(settings, db)
    outcome.file = result.source
    outcome.size_bytes = result.size_bytes
    outcome.added_bytes = result.added_bytes
    outcome.offsite = "verified"  # restic writes a snapshot only once its data is stored
    if stop.is_set():
        return
    try:
        outcome.pruned_remote = len(restic.forget(settings, db).removed)
        outcome.repository_size_bytes = restic.repository_size(settings)
    except SaasError as exc:  # the snapshot is good; retention retries next run
        log.warning("retention for %s failed: %s", db, exc)


def run_all(
    settings: Settings,
    *,
    databases: list[str] | None = None,
    fmt: str | None = None,
    concurrency: int | None = None,
    stop: threading.Event | None = None,
    backup: BackupFunc | None = None,
    progress: bool = False,
) -> RunSummary:
    """Back up every tenant (or `databases`), BACKUP_CONCURRENCY at a time.

    `progress` shows a tenant count on a terminal (never in cron, pipes or the scheduler)."""
    stop = stop or threading.Event()
    backup = backup or default_backup
    fmt = fmt or settings.backup_format
    started = time.monotonic()
    with run_lock(settings):
        for path in sweep_partials(settings.backup_dir):
            log.warning("removed %s, left by an interrupted backup", path)
        names = databases if databases is not None else tenant_databases(settings)
        if restic.enabled(settings) and names:
            restic.open_repository(settings, create=True)  # a wrong password stops here
        workers = max(1, min(concurrency or settings.backup_concurrency, len(names) or 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backup") as pool:
            # one S3 client for the run (thread-safe; building one costs ~0.1 s)
            client = (
                s3.client(settings)
                if settings.s3_enabled and not restic.enabled(settings)
                else None
            )
            futures = [
                pool.submit(
                    back_up_tenant, settings, db, fmt=fmt, backup=backup, stop=stop, client=client
                )
                for db in names
            ]
            bar = Progress("backup run", total=len(names), enabled=None if progress else False)
            for future in as_completed(futures):
                done = future.result()
                bar.advance(1, f"{done.database}: {done.state}")
            outcomes = [f.result() for f in futures]
            bar.finish(f"{sum(o.ok for o in outcomes)}/{len(outcomes)} backed up")
        if stop.is_set():
            for path in sweep_partials(settings.backup_dir):
                log.info("removed partial file %s", path)
        elif restic.enabled(settings) and restic.prune_due(settings):
            try:
                restic.prune(settings)
            except SaasError as exc:  # the backups are good; prune is retried next run
                log.error("restic prune failed: %s", exc)
    return RunSummary(
        outcomes,
        time.monotonic() - started,
        interrupted=any(o.state == "interrupted" for o in outcomes),
    )
