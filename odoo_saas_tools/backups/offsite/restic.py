"""The restic off-site engine (BACKUP_OFFSITE=restic): a tenant's backup is a restic snapshot.

restic cuts what it is given into content-defined chunks and stores each chunk once, so a
snapshot costs what changed since any earlier one (of any tenant): unchanged attachments cost
nothing, clones share their template's chunks. No local file is written. How restic is run and
the repository-wide operations are in `restic_repo`.

A tenant's snapshot holds two directories, tagged `tenant:<db>` and `odoo:<version>`:
- `<ODOO_DATA_DIR>/.restic-stage/<db>/`: `dump.sql` (pg_dump's plain SQL, uncompressed, so its
  bytes stay stable between runs and deduplicate) and Odoo's `manifest.json`;
- `<ODOO_DATA_DIR>/filestore/<db>/`: the filestore as it is.
The dump is taken in the same database snapshot in which the attachment list is read, and every
referenced file must exist (as for `db backup`). A snapshot exists in the repository only once
it is complete; an interrupted run leaves unreferenced data that maintenance removes.
Retention is `restic forget` per tenant; maintenance is `restic prune`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import threading
import time
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from odoo_saas_tools.backups import load_limit
from odoo_saas_tools.backups.load_limit import Bound, Stream
from odoo_saas_tools.backups.offsite import LocalBackup, Retained, Shipment
from odoo_saas_tools.backups.offsite import restic_repo as repo
from odoo_saas_tools.backups.offsite.restic_repo import SCHEME, Snapshot
from odoo_saas_tools.backups.sources import Checked
from odoo_saas_tools.core import execute
from odoo_saas_tools.core.errors import ConfigError, SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import sql_stream
from odoo_saas_tools.postgres import tools as pgtools

log = logging.getLogger(__name__)

KIND = "restic"  # a restore's kind when it loads a snapshot
STAGE_DIR = ".restic-stage"
DUMP_NAME = "dump.sql"
MANIFEST_NAME = "manifest.json"
_SNAPSHOT_ID = re.compile(r"[0-9a-f]{8,64}")
_SYNTAX = "restic:TENANT[@ID|@TIME]"


@dataclass(frozen=True)
class Wanted:
    """What `restic:TENANT[@ID|@TIME]` asks for."""

    tenant: str
    snapshot_id: str | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class BackupResult:
    database: str
    snapshot_id: str
    source: str
    size_bytes: int  # what the snapshot holds
    added_bytes: int  # what this run added to the repository (before compression)
    files_new: int
    files_unmodified: int
    attachments: int
    duration_seconds: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class Engine:
    """restic behind the off-site interface (backups/offsite/__init__.py)."""

    name = "restic"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def open(self, *, create: bool = False) -> None:
        repo.open_repository(self.settings, create=create)

    def back_up(
        self, db: str, take_local: Callable[[], LocalBackup], stop: threading.Event
    ) -> Shipment:
        """A snapshot is the backup (restic writes one only once its data is stored)."""
        result = back_up(self.settings, db)
        return Shipment(result.source, result.size_bytes, result.added_bytes, local=False)

    def retain(
        self,
        databases: list[str] | None = None,
        *,
        dry_run: bool = False,
        now: datetime | None = None,
    ) -> dict[str, Retained]:
        if databases is None:
            databases = sorted({s.tenant for s in repo.snapshots(self.settings)})
        out = {}
        for db in databases:
            forgot = repo.forget(self.settings, db, dry_run=dry_run)
            out[db] = Retained(
                db,
                kept=[(f"{SCHEME}{db}@{i[:8]}", ["policy"]) for i in forgot.kept],
                removed=[f"{SCHEME}{db}@{i[:8]}" for i in forgot.removed],
            )
        return out

    def url(self, ref: str) -> str:
        return ref  # already a restore source: restic:TENANT@ID

    def listing(self, databases: list[str]) -> list[dict[str, Any]]:
        wanted = set(databases)
        return [
            {
                "database": snap.tenant,
                "url": snap.source,
                "snapshot_id": snap.id,
                "taken_at": snap.time.isoformat(),
                "odoo_version": snap.odoo_version,
                "size_bytes": None,
            }
            for snap in repo.snapshots(self.settings)
            if not wanted or snap.tenant in wanted
        ]

    def stored_bytes(self) -> int | None:
        return repo.repository_size(self.settings)

    def maintenance_due(self) -> bool:
        return repo.maintenance_due(self.settings)

    def maintenance(self) -> dict[str, Any] | None:
        return repo.maintenance(self.settings)


# --- sources ---------------------------------------------------------------------------------
def tenant_of(settings: Settings, text: str) -> str | None:
    """The tenant restic:TENANT[@...] names (None: not a restic source, or the whole store)."""
    wanted = parse_source(text, settings)
    return wanted.tenant if wanted is not None else None


def parse_source(text: str | os.PathLike[str], settings: Settings | None = None) -> Wanted | None:
    """`restic:TENANT`, `restic:TENANT@<snapshot id>`, `restic:TENANT@<ISO time>` (the newest at
    or before it; a time without zone is BACKUP_TZ's); None when text is not a restic source."""
    text = str(text)
    if not text.startswith(SCHEME):
        return None
    rest = text[len(SCHEME) :]
    tenant, _, which = rest.partition("@")
    if not tenant or "/" in tenant or (_ and not which):
        raise ConfigError(f"{text!r}: write restic:TENANT, restic:TENANT@ID or restic:TENANT@TIME")
    if not which:
        return Wanted(tenant)
    if _SNAPSHOT_ID.fullmatch(which):
        return Wanted(tenant, snapshot_id=which)
    try:
        at = datetime.fromisoformat(which)
    except ValueError:
        raise ConfigError(
            f"{text!r}: {which!r} is neither a snapshot id (8+ hex digits) nor a time "
            "(e.g. 2026-11-20T06:00)"
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=zoneinfo.ZoneInfo(settings.backup_tz if settings else "UTC"))
    return Wanted(tenant, at=at)


def resolve(settings: Settings, wanted: Wanted) -> Snapshot:
    """The snapshot a source names; SaasError when there is none."""
    found = repo.snapshots(settings, wanted.tenant)
    what = f"{SCHEME}{wanted.tenant}"
    if wanted.snapshot_id:
        found = [s for s in found if s.id.startswith(wanted.snapshot_id)]
        what += f"@{wanted.snapshot_id}"
        if len(found) > 1:
            raise SaasError(f"{what} is ambiguous: {len(found)} snapshots start with it")
    elif wanted.at:
        found = [s for s in found if s.time <= wanted.at]
        what += f" at or before {wanted.at.isoformat()}"
    if not found:
        raise SaasError(f"no restic snapshot of {what}")
    return found[-1]


class SnapshotSource:
    """A snapshot as a restore source (backups/sources.py); None: the whole repository, which
    `backup verify restic:` checks and nothing loads."""

    kind = KIND
    manifest = None

    def __init__(self, text: str, snapshot: Snapshot | None) -> None:
        self.snapshot = snapshot
        self.name = text
        self.label = snapshot.source if snapshot else text

    def bound(self, settings: Settings) -> Bound:
        return load_limit.bound(settings)

    def file_reuse(self, settings: Settings, tenant: str) -> None:
        return None  # restic restores every file itself

    def load(self, settings: Settings, db: str, fs_dir: Path, limit: Bound, **_: Any) -> int:
        if self.snapshot is None:
            raise ConfigError(f"name a snapshot to load: {_SYNTAX}")
        return load_snapshot(settings, db, self.snapshot, fs_dir, limit)

    def check(self, settings: Settings, *, then_load: bool = False) -> Checked:
        """`restic check` of the repository (the snapshot's data is the repository's)."""
        if then_load and self.snapshot is None:
            raise ConfigError(f"--restore-test needs a snapshot: {_SYNTAX}")
        line = repo.check(settings)
        return Checked(self.label, "", repo.repository_size(settings), f"restic ({line})")


@contextlib.contextmanager
def open_source(settings: Settings, text: str, *, purpose: str = "restore") -> Iterator[Any]:
    """restic:TENANT[@ID|@TIME], resolved to its snapshot now (none: fails before any load);
    `restic:` alone names the repository, for `backup verify`."""
    if text == SCHEME and purpose == "verify":
        yield SnapshotSource(text, None)
        return
    wanted = parse_source(text, settings)
    assert wanted is not None
    yield SnapshotSource(text, resolve(settings, wanted))


# --- backup ----------------------------------------------------------------------------------
def stage_dir(settings: Settings, db: str) -> Path:
    return settings.data_dir / STAGE_DIR / db


def back_up(settings: Settings, db: str, *, when: datetime | None = None) -> BackupResult:
    """One snapshot of tenant db (the caller holds the tenant's lock).

    `when` overrides the snapshot's time (benchmarks and tests simulating days)."""
    started = time.monotonic()
    repo.open_repository(settings, create=True)
    stage = stage_dir(settings, db)
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, stage, True)
        if stage.exists():
            shutil.rmtree(stage)  # left by a killed run
        stage.mkdir(parents=True, mode=0o700)
        version, attachments = _stage(settings, db, stage)
        paths = [stage]
        fs = settings.filestore(db)
        if fs.is_dir():
            paths.append(fs)
        args = repo.backup_args(db, version, paths, when=when, tz=settings.backup_tz)
        summary = _backup_summary(repo.run(settings, *args))
    result = BackupResult(
        database=db,
        snapshot_id=summary["snapshot_id"],
        source=f"{SCHEME}{db}@{summary['snapshot_id'][:8]}",
        size_bytes=int(summary.get("total_bytes_processed", 0)),
        added_bytes=int(summary.get("data_added", 0)),
        files_new=int(summary.get("files_new", 0)),
        files_unmodified=int(summary.get("files_unmodified", 0)),
        attachments=attachments,
        duration_seconds=round(time.monotonic() - started, 3),
    )
    log.info(
        "restic snapshot %s of %s: %d bytes, %d added",
        result.snapshot_id[:8],
        db,
        result.size_bytes,
        result.added_bytes,
    )
    return result


def _stage(settings: Settings, db: str, stage: Path) -> tuple[str, int]:
    """The dump and manifest into stage, in the snapshot the attachment list is read in;
    (Odoo version, attachments referenced, all of which exist)."""
    from odoo_saas_tools.backups import backup as zip_backup

    with zip_backup._snapshot(settings, db) as snap:
        files = zip_backup._filestore_files(settings, db, snap)  # all referenced files exist
        (stage / MANIFEST_NAME).write_text(json.dumps(snap.manifest, indent=4))
        proc = pgtools.pg_dump_popen(
            settings, db, fmt="plain", snapshot=snap.snapshot_id, file=stage / DUMP_NAME
        )
        try:
            pgtools.wait(proc, settings)
        except BaseException:
            pgtools.kill(proc)
            raise
    zip_backup._check_dump(settings, stage / DUMP_NAME, custom=False)
    return str(snap.manifest.get("version") or ""), len(files)


def _backup_summary(proc: execute.Completed[bytes]) -> dict[str, Any]:
    for line in reversed((proc.stdout or b"").decode(errors="replace").splitlines()):
        with contextlib.suppress(ValueError):
            data = json.loads(line)
            if isinstance(data, dict) and data.get("message_type") == "summary":
                return data
    raise SaasError("restic backup printed no summary: the snapshot was not confirmed")


# --- restore ---------------------------------------------------------------------------------
def _layout(snap: Snapshot) -> tuple[str, str | None]:
    """(stage directory, filestore directory or None) inside the snapshot."""
    stage = next((p for p in snap.paths if Path(p).parent.name == STAGE_DIR), None)
    if stage is None:
        raise SaasError(f"{snap.source} holds no database dump (not made by odoo-saas)")
    fs = next((p for p in snap.paths if p != stage), None)
    return stage, fs


def load_snapshot(
    settings: Settings, db: str, snap: Snapshot, fs_dir: Path, limit: Bound | None = None
) -> int:
    """Load snapshot snap into the existing empty database db and its filestore into fs_dir
    (which must not exist yet); the number of files restored.

    The dump streams from `restic dump` into PostgreSQL (stopped past `limit`) while `restic
    restore` writes the filestore beside it, on the filestore's own file system, then it is
    renamed into place."""
    stage, fs = _layout(snap)
    worker: threading.Thread | None = None
    errors: list[BaseException] = []
    target = fs_dir.parent / f".{fs_dir.name}.restic-restore"
    if fs:

        def restore_files() -> None:
            try:
                repo.run(settings, "restore", snap.id, "--target", target, "--include", fs)
            except BaseException as exc:
                errors.append(exc)

        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True, mode=0o700)
        worker = threading.Thread(target=restore_files, daemon=True)
        worker.start()
    try:
        _load_dump(settings, db, snap, f"{stage}/{DUMP_NAME}", limit or Bound(None))
    finally:
        if worker is not None:
            worker.join()
    try:
        if errors:
            raise errors[0]
        count = 0
        if fs:
            restored = target / fs.lstrip("/")
            if restored.is_dir():
                os.rename(restored, fs_dir)
                count = sum(1 for p in fs_dir.rglob("*") if p.is_file())
    finally:
        shutil.rmtree(target, ignore_errors=True)
    return count


def _load_dump(settings: Settings, db: str, snap: Snapshot, path: str, limit: Bound) -> None:
    proc = repo.popen(settings, "dump", snap.id, path)
    assert proc.stdout is not None
    try:
        sql_stream.load_stream(settings, db, Stream(proc.stdout, limit, snap.source))
    except BaseException:
        execute.kill(proc)
        raise
    proc.stdout.close()
    execute.wait_checked(proc, settings.secret_values())
