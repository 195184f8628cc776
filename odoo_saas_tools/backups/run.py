"""`backup run`: back up every tenant, off-site too, apply retention; one failing tenant stops
no other.

Each tenant is backed up under its tenant lock, so a scheduled backup never runs alongside a
manual restore, rename or drop of that tenant; a busy tenant counts as failed (its backup was
not taken, and the summary and status file say why). Where the backup goes besides
$BACKUP_DIR is the off-site engine's business (backups/offsite): one built for the run. A backup
the engine could not store off-site counts as failed too (the s3 engine keeps the local file and
uploads it again next run). Retention runs for a tenant only after its backup (and off-site
copy) succeeded; the engine's maintenance runs after the run, when due.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from odoo_saas_tools.backups import offsite
from odoo_saas_tools.backups import status as backup_status
from odoo_saas_tools.backups.names import default_dir, sweep_partials
from odoo_saas_tools.backups.retain import retain_local
from odoo_saas_tools.core.errors import BusyError, ConfigError, SaasError
from odoo_saas_tools.core.files import file_lock
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
    added_bytes: int | None = None  # what the run added off-site (deduplicating engines)
    repository_size_bytes: int | None = None  # the off-site store after the run, when known

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
            parts.append(f"{human_size(sum(added))} added off-site")
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
    """One `backup run` at a time on this backup directory (scheduled or by hand); the holder
    notes its pid in the lock file, for the busy message."""
    path = settings.backup_dir / ".run.lock"
    held = contextlib.ExitStack()
    try:
        settings.backup_dir.mkdir(parents=True, exist_ok=True)
        fh = held.enter_context(file_lock(path, blocking=False))
    except BlockingIOError:
        raise BusyError(f"another backup run is in progress (pid {_holder(path)})") from None
    except OSError as exc:
        raise SaasError(f"BACKUP_DIR {settings.backup_dir} is not usable: {exc.strerror}") from exc
    with held:
        fh.truncate(0)
        fh.write(f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            fh.truncate(0)


def _holder(path: Path) -> str:
    """The pid the lock's holder noted, or "?": only digits are shown, and a link or a pipe
    put in its place is not read (root's message never shows another file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return "?"
    try:
        text = os.read(fd, 32) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
    except OSError:
        text = b""
    finally:
        os.close(fd)
    pid = text.decode(errors="replace").strip()
    return pid if pid.isdigit() else "?"


def default_backup(settings: Settings, db: str, directory: Path, fmt: str) -> Any:
    from odoo_saas_tools.backups.backup import create_backup

    # run_all holds the tenant lock already (advisory locks are per connection).
    return create_backup(settings, db, directory, fmt, progress=False, lock=False)


def back_up_tenant(
    settings: Settings,
    db: str,
    *,
    fmt: str,
    backup: BackupFunc,
    stop: threading.Event,
    engine: offsite.Engine | None = None,
) -> TenantOutcome:
    """One tenant: lock, back up (off-site too), apply retention; record the status file."""
    outcome = TenantOutcome(db, "failed")
    if stop.is_set():
        outcome.state = "interrupted"
        return outcome
    started = time.monotonic()
    try:
        with tenant_lock(settings, db, operation="backup"):
            _back_up_locked(settings, db, outcome, fmt, backup, stop, engine)
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
    if outcome.state != "interrupted":  # not the tenant's fault; the scheduler runs again at start
        _record(settings, outcome, offsite_configured=engine is not None)
    return outcome


def _back_up_locked(
    settings: Settings,
    db: str,
    outcome: TenantOutcome,
    fmt: str,
    backup: BackupFunc,
    stop: threading.Event,
    engine: offsite.Engine | None,
) -> None:
    """The tenant's backup, handed to the engine (if any), then retention (its failure is
    logged: the backup itself is good and retention is retried next run)."""

    def take_local() -> Any:
        directory = default_dir(settings, db)
        directory.mkdir(parents=True, exist_ok=True)
        result = backup(settings, db, directory, fmt)
        outcome.file, outcome.size_bytes = str(result.path), int(result.size_bytes)
        return result

    local = True
    if engine is None:
        take_local()
    else:
        outcome.offsite = "failed"
        shipped = engine.back_up(db, take_local, stop)
        outcome.file, outcome.size_bytes = shipped.file, shipped.size_bytes
        outcome.added_bytes, outcome.uploaded = shipped.added_bytes, shipped.uploaded
        outcome.offsite, local = "verified", shipped.local
        if stop.is_set():
            return  # the backup is good; retention waits for the next run
    try:
        if local:
            outcome.pruned_local = len(retain_local(settings, db).deleted_local)
        if engine is not None:
            outcome.pruned_remote = len(engine.retain([db])[db].removed)
            outcome.repository_size_bytes = engine.stored_bytes()
    except SaasError as exc:
        log.warning("retention for %s failed: %s", db, exc)


def _record(settings: Settings, outcome: TenantOutcome, *, offsite_configured: bool) -> None:
    """Log the tenant's outcome and write its status file."""
    if outcome.ok:
        log.info("backed up %s: %s", outcome.database, outcome.file)
    else:
        log.error("backup of %s failed: %s", outcome.database, outcome.error)
    offsite_state = outcome.offsite
    if offsite_state == "disabled" and offsite_configured:
        offsite_state = "failed"
    with contextlib.suppress(ConfigError):  # a name no file may carry has no status file
        backup_status.record(
            settings,
            outcome.database,
            ok=outcome.ok,
            offsite=offsite_state,
            error=outcome.error,
            duration=outcome.duration_seconds,
            size=outcome.size_bytes,
            file=Path(outcome.file) if outcome.file else None,
            added=outcome.added_bytes,
            repository_size=outcome.repository_size_bytes,
        )


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
    started = time.monotonic()
    engine = offsite.engine(settings)
    with run_lock(settings):
        for path in sweep_partials(settings.backup_dir):
            log.warning("removed %s, left by an interrupted backup", path)
        names = databases if databases is not None else tenant_databases(settings)
        if engine is not None and names:
            engine.open(create=True)  # a wrong key stops here, before any tenant
        outcomes = _back_up_all(
            settings,
            names,
            fmt or settings.backup_format,
            concurrency,
            stop,
            backup,
            engine,
            progress,
        )
        if stop.is_set():
            for path in sweep_partials(settings.backup_dir):
                log.info("removed partial file %s", path)
        elif engine is not None and engine.maintenance_due():
            try:
                engine.maintenance()
            except SaasError as exc:  # the backups are good; maintenance is retried next run
                log.error("off-site maintenance failed: %s", exc)
    return RunSummary(
        outcomes,
        time.monotonic() - started,
        interrupted=any(o.state == "interrupted" for o in outcomes),
    )


def _back_up_all(
    settings: Settings,
    names: list[str],
    fmt: str,
    concurrency: int | None,
    stop: threading.Event,
    backup: BackupFunc | None,
    engine: offsite.Engine | None,
    progress: bool,
) -> list[TenantOutcome]:
    """Each tenant in a pool of BACKUP_CONCURRENCY (or concurrency) threads, in order."""
    workers = max(1, min(concurrency or settings.backup_concurrency, len(names) or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backup") as pool:
        futures = [
            pool.submit(
                back_up_tenant,
                settings,
                db,
                fmt=fmt,
                backup=backup or default_backup,
                stop=stop,
                engine=engine,
            )
            for db in names
        ]
        bar = Progress("backup run", total=len(names), enabled=None if progress else False)
        for future in as_completed(futures):
            done = future.result()
            bar.advance(1, f"{done.database}: {done.state}")
        outcomes = [f.result() for f in futures]
        bar.finish(f"{sum(o.ok for o in outcomes)}/{len(outcomes)} backed up")
    return outcomes
