"""The restic off-site engine (BACKUP_OFFSITE=restic): the one module that drives restic.

One repository for every tenant, `s3:<endpoint>/<bucket>/<BACKUP_S3_PREFIX>/restic`, encrypted
on this side with BACKUP_ENCRYPTION_PASSWORD. restic cuts what it is given into content-defined
chunks and stores each chunk once, so a snapshot costs what changed since any earlier one (of
any tenant): unchanged attachments cost nothing, clones share their template's chunks.

A tenant's snapshot holds two directories, tagged `tenant:<db>` and `odoo:<version>`:
- `<ODOO_DATA_DIR>/.restic-stage/<db>/`: `dump.sql` (pg_dump's plain SQL, uncompressed, so its
  bytes stay stable between runs and deduplicate) and Odoo's `manifest.json`;
- `<ODOO_DATA_DIR>/filestore/<db>/`: the filestore as it is.
The dump is taken in the same database snapshot in which the attachment list is read, and every
referenced file must exist (as for `db backup`). A snapshot exists in the repository only once
it is complete; an interrupted run leaves unreferenced data that `prune` removes.

Secrets reach restic through its environment only (RESTIC_PASSWORD, AWS_*), never argv, and
are blanked out of logs and errors (core.execute). Retention is `restic forget` per tenant;
`restic prune` runs on BACKUP_PRUNE_SCHEDULE under an exclusive lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import subprocess
import threading
import time
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from odoo_saas_tools.backups.load_limit import Bound, Stream
from odoo_saas_tools.backups.retention import Policy
from odoo_saas_tools.core import execute
from odoo_saas_tools.core.errors import BusyError, CommandError, ConfigError, SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import sql_stream
from odoo_saas_tools.postgres import tools as pgtools

log = logging.getLogger(__name__)

SCHEME = "restic:"
HOST = "odoo-saas"  # one host name for every snapshot: parents are found wherever we run
STAGE_DIR = ".restic-stage"
DUMP_NAME = "dump.sql"
MANIFEST_NAME = "manifest.json"
TENANT_TAG = "tenant:"
ODOO_TAG = "odoo:"
_SNAPSHOT_ID = re.compile(r"[0-9a-f]{8,64}")


@dataclass(frozen=True)
class Source:
    """What `restic:TENANT[@ID|@TIME]` asks for."""

    tenant: str
    snapshot_id: str | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class Snapshot:
    id: str
    short_id: str
    time: datetime
    tenant: str
    odoo_version: str
    paths: tuple[str, ...]

    @property
    def source(self) -> str:
        return f"{SCHEME}{self.tenant}@{self.short_id}"


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


@dataclass
class ForgetResult:
    database: str
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


# --- configuration ---------------------------------------------------------------------------
def enabled(settings: Settings) -> bool:
    return settings.backup_offsite == "restic"


def repository_url(settings: Settings) -> str:
    """s3:<endpoint>/<bucket>/<prefix>/restic (restic's notation for an S3 repository)."""
    endpoint = settings.aws_s3_endpoint_url.rstrip("/") or "s3.amazonaws.com"
    prefix = settings.backup_s3_prefix.strip("/")
    parts = [settings.aws_s3_bucket, *([prefix] if prefix else []), "restic"]
    return f"s3:{endpoint}/" + "/".join(parts)


def _require(settings: Settings) -> None:
    if not settings.aws_s3_bucket:
        raise ConfigError("AWS_S3_BUCKET is not set: the restic repository lives in the bucket")
    if not settings.backup_encryption_password:
        raise ConfigError(
            "BACKUP_ENCRYPTION_PASSWORD (or _FILE) is not set: the restic repository is "
            "encrypted with it"
        )


def _env(settings: Settings) -> dict[str, str]:
    env = {
        "RESTIC_REPOSITORY": repository_url(settings),
        "RESTIC_PASSWORD": settings.backup_encryption_password,
        "RESTIC_CACHE_DIR": str(settings.backup_dir / ".restic-cache"),
        "AWS_DEFAULT_REGION": settings.aws_region,
        "TZ": settings.backup_tz,  # forget's days, weeks and months are BACKUP_TZ's
        "HOME": str(settings.backup_dir),
    }
    if settings.aws_access_key_id:
        env["AWS_ACCESS_KEY_ID"] = settings.aws_access_key_id
    if settings.aws_secret_access_key:
        env["AWS_SECRET_ACCESS_KEY"] = settings.aws_secret_access_key
    if settings.aws_session_token:
        env["AWS_SESSION_TOKEN"] = settings.aws_session_token
    return env


def _failure(settings: Settings, args: Sequence[str], proc: subprocess.CompletedProcess) -> str:
    """One line for a failed restic command, naming the usual causes plainly."""
    text = (proc.stderr or b"").decode(errors="replace")
    for secret in settings.secret_values():
        text = text.replace(secret, execute.REDACTED)
    if "wrong password" in text:
        return (
            f"BACKUP_ENCRYPTION_PASSWORD does not open the restic repository at "
            f"{repository_url(settings)} (wrong password)"
        )
    if "Is there a repository at the following location" in text:
        return f"there is no restic repository at {repository_url(settings)}"
    if "repository is already locked" in text:
        return (
            "the restic repository is locked by another restic operation still running "
            "(a backup, prune or check); try later"
        )
    return execute.describe_failure(["restic", *args], proc.returncode, text.encode())


def run(
    settings: Settings,
    *args: str | os.PathLike[str],
    stdout: Any = None,
    capture: bool = True,
    check: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run `restic ARGS` on the repository; SaasError with one clear line on failure."""
    _require(settings)
    settings.backup_dir.mkdir(parents=True, exist_ok=True)
    argv = ["restic", *[str(a) for a in args]]
    proc = execute.run(
        argv,
        env=_env(settings),
        clean_env=True,
        secrets=settings.secret_values(),
        capture=capture and stdout is None,
        stdout=stdout,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        error = BusyError if b"already locked" in (proc.stderr or b"") else CommandError
        raise error(_failure(settings, [str(a) for a in args], proc))
    return proc


def _json(settings: Settings, *args: str) -> Any:
    out = run(settings, *args, "--json").stdout or b""
    try:
        return json.loads(out.decode() or "null")
    except ValueError as exc:
        raise SaasError(f"restic {args[0]} printed no JSON: {out[:200]!r}") from exc


def open_repository(settings: Settings, *, create: bool = False) -> bool:
    """Check that the repository opens with the password; with `create` initialise a missing
    one (repository format 2: compressed). Returns True when it was created. A wrong password
    fails here, before anything is written."""
    proc = run(settings, "cat", "config", check=False)
    if proc.returncode == 0:
        return False
    message = _failure(settings, ["cat", "config"], proc)
    if not create or not message.startswith("there is no restic repository"):
        raise CommandError(message)
    run(settings, "init", "--repository-version", "2")
    log.info("created the restic repository %s", repository_url(settings))
    return True


# --- sources and snapshots -------------------------------------------------------------------
def parse_source(text: str | os.PathLike[str], settings: Settings | None = None) -> Source | None:
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
        return Source(tenant)
    if _SNAPSHOT_ID.fullmatch(which):
        return Source(tenant, snapshot_id=which)
    try:
        at = datetime.fromisoformat(which)
    except ValueError:
        raise ConfigError(
            f"{text!r}: {which!r} is neither a snapshot id (8+ hex digits) nor a time "
            "(e.g. 2026-11-20T06:00)"
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=zoneinfo.ZoneInfo(settings.backup_tz if settings else "UTC"))
    return Source(tenant, at=at)


def _parse_time(value: str) -> datetime:
    """restic's RFC 3339 times carry nanoseconds; Python reads microseconds."""
    value = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
    return datetime.fromisoformat(value)


def _tag(tags: Sequence[str], prefix: str) -> str:
    return next((t[len(prefix) :] for t in tags if t.startswith(prefix)), "")


def snapshots(settings: Settings, tenant: str | None = None) -> list[Snapshot]:
    """The tenants' snapshots (or one tenant's), oldest first."""
    args = ["snapshots"]
    if tenant:
        args += ["--tag", TENANT_TAG + tenant]
    out: list[Snapshot] = []
    for item in _json(settings, *args) or []:
        tags = item.get("tags") or []
        name = _tag(tags, TENANT_TAG)
        if not name:
            continue  # not one of ours
        out.append(
            Snapshot(
                id=item["id"],
                short_id=item.get("short_id") or item["id"][:8],
                time=_parse_time(item["time"]),
                tenant=name,
                odoo_version=_tag(tags, ODOO_TAG),
                paths=tuple(item.get("paths") or ()),
            )
        )
    return sorted(out, key=lambda s: (s.tenant, s.time))


def resolve(settings: Settings, source: Source) -> Snapshot:
    """The snapshot a source names; SaasError when there is none."""
    found = snapshots(settings, source.tenant)
    what = f"{SCHEME}{source.tenant}"
    if source.snapshot_id:
        found = [s for s in found if s.id.startswith(source.snapshot_id)]
        what += f"@{source.snapshot_id}"
        if len(found) > 1:
            raise SaasError(f"{what} is ambiguous: {len(found)} snapshots start with it")
    elif source.at:
        found = [s for s in found if s.time <= source.at]
        what += f" at or before {source.at.isoformat()}"
    if not found:
        raise SaasError(f"no restic snapshot of {what}")
    return found[-1]


def _layout(snap: Snapshot) -> tuple[str, str | None]:
    """(stage directory, filestore directory or None) inside the snapshot."""
    stage = next((p for p in snap.paths if Path(p).parent.name == STAGE_DIR), None)
    if stage is None:
        raise SaasError(f"{snap.source} holds no database dump (not made by odoo-saas)")
    fs = next((p for p in snap.paths if p != stage), None)
    return stage, fs


# --- backup ----------------------------------------------------------------------------------
def stage_dir(settings: Settings, db: str) -> Path:
    return settings.data_dir / STAGE_DIR / db


def back_up(settings: Settings, db: str, *, when: datetime | None = None) -> BackupResult:
    """One snapshot of tenant db (the caller holds the tenant's lock).

    `when` overrides the snapshot's time (benchmarks and tests simulating days)."""
    from odoo_saas_tools.backups import backup as zip_backup

    started = time.monotonic()
    open_repository(settings, create=True)
    stage = stage_dir(settings, db)
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, stage, True)
        if stage.exists():
            shutil.rmtree(stage)  # left by a killed run
        stage.mkdir(parents=True, mode=0o700)
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
        version = str(snap.manifest.get("version") or "")
        paths = [stage]
        fs = settings.filestore(db)
        if fs.is_dir():
            paths.append(fs)
        args = ["backup", "--host", HOST, "--tag", f"{TENANT_TAG}{db},{ODOO_TAG}{version}"]
        if when is not None:
            local = when.astimezone(zoneinfo.ZoneInfo(settings.backup_tz))  # restic's TZ
            args += ["--time", local.strftime("%Y-%m-%d %H:%M:%S")]
        summary = _backup_summary(run(settings, *args, "--json", *paths))
    result = BackupResult(
        database=db,
        snapshot_id=summary["snapshot_id"],
        source=f"{SCHEME}{db}@{summary['snapshot_id'][:8]}",
        size_bytes=int(summary.get("total_bytes_processed", 0)),
        added_bytes=int(summary.get("data_added", 0)),
        files_new=int(summary.get("files_new", 0)),
        files_unmodified=int(summary.get("files_unmodified", 0)),
        attachments=len(files),
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


def _backup_summary(proc: subprocess.CompletedProcess[bytes]) -> dict[str, Any]:
    for line in reversed((proc.stdout or b"").decode(errors="replace").splitlines()):
        with contextlib.suppress(ValueError):
            data = json.loads(line)
            if isinstance(data, dict) and data.get("message_type") == "summary":
                return data
    raise SaasError("restic backup printed no summary: the snapshot was not confirmed")


# --- restore ---------------------------------------------------------------------------------
def load_snapshot(
    settings: Settings, db: str, source: Source, fs_dir: Path, limit: Bound | None = None
) -> tuple[str, int]:
    """Load the snapshot `source` names into the existing empty database db and its filestore
    into fs_dir (which must not exist yet); (snapshot source, files restored).

    The dump streams from `restic dump` into PostgreSQL (stopped past `limit`) while `restic
    restore` writes the filestore beside it, on the filestore's own file system, then it is
    renamed into place."""
    snap = resolve(settings, source)
    stage, fs = _layout(snap)
    worker: threading.Thread | None = None
    errors: list[BaseException] = []
    target = fs_dir.parent / f".{fs_dir.name}.restic-restore"
    if fs:

        def restore_files() -> None:
            try:
                run(settings, "restore", snap.id, "--target", target, "--include", fs)
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
    return snap.source, count


def _load_dump(settings: Settings, db: str, snap: Snapshot, path: str, limit: Bound) -> None:
    _require(settings)
    proc = execute.popen(
        ["restic", "dump", snap.id, path],
        env=_env(settings),
        clean_env=True,
        secrets=settings.secret_values(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        sql_stream.load_stream(settings, db, Stream(proc.stdout, limit, snap.source))
    except BaseException:
        with contextlib.suppress(OSError):
            proc.kill()
        proc.wait()
        raise
    proc.stdout.close()
    execute.wait_checked(proc, settings.secret_values())


# --- retention, prune, check, size -----------------------------------------------------------
def forget_args(policy: Policy) -> list[str]:
    """BACKUP_RETENTION_DAYS / BACKUP_KEEP_* as `restic forget` options; the newest snapshot
    is always kept (--keep-last 1). --keep-within counts back from the newest snapshot, so a
    tenant whose backups stopped keeps its last days."""
    args = ["--keep-last", "1"]
    if policy.gfs:
        for flag, count in (
            ("--keep-daily", policy.keep_daily),
            ("--keep-weekly", policy.keep_weekly),
            ("--keep-monthly", policy.keep_monthly),
        ):
            if count:
                args += [flag, str(count)]
    else:
        args += ["--keep-within", f"{policy.retention_days}d"]
    return args


def forget(settings: Settings, db: str, *, dry_run: bool = False) -> ForgetResult:
    """Apply the retention policy to one tenant's snapshots (data goes at the next prune)."""
    args = ["forget", "--tag", TENANT_TAG + db, "--group-by", "", "--host", HOST]
    args += forget_args(Policy.from_settings(settings))
    if dry_run:
        args.append("--dry-run")
    result = ForgetResult(db)
    for group in _json(settings, *args) or []:
        result.kept += [s["id"] for s in group.get("keep") or []]
        result.removed += [s["id"] for s in group.get("remove") or []]
    if result.removed and not dry_run:
        log.info("forgot %d restic snapshot(s) of %s", len(result.removed), db)
    return result


def _state_path(settings: Settings) -> Path:
    return settings.backup_dir / ".restic-prune.json"


def last_prune(settings: Settings) -> float | None:
    try:
        value = json.loads(_state_path(settings).read_text()).get("last_prune")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


def prune_due(settings: Settings, now: float | None = None) -> bool:
    """Whether a BACKUP_PRUNE_SCHEDULE time passed since the last prune."""
    from odoo_saas_tools.backups.scheduler import prev_fire

    now = time.time() if now is None else now
    last = last_prune(settings)
    if last is None:
        return True
    return prev_fire(settings.backup_prune_schedule, settings.backup_tz, now) > last


@contextlib.contextmanager
def _maintenance_lock(settings: Settings) -> Iterator[None]:
    """One prune or check at a time from this stack (restic adds its own exclusive lock)."""
    settings.backup_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.backup_dir / ".restic-maintenance.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BusyError("another restic prune or check is running") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def prune(settings: Settings) -> dict[str, Any]:
    """`restic prune` (removes data no snapshot references); records when it ran."""
    from odoo_saas_tools.backups.status import atomic_write_json

    with _maintenance_lock(settings):
        open_repository(settings)
        run(settings, "unlock")  # locks of killed runs only; live ones stay
        before = repository_size(settings)
        started = time.monotonic()
        run(settings, "prune")
        after = repository_size(settings)
        state = {"last_prune": time.time(), "freed_bytes": max(0, before - after)}
        atomic_write_json(_state_path(settings), state)
    state["duration_seconds"] = round(time.monotonic() - started, 3)
    state["repository_size_bytes"] = after
    log.info("restic prune freed %d bytes", state["freed_bytes"])
    return state


def check(settings: Settings, *, read_data_subset: str | None = None) -> str:
    """`restic check` (structure, and with a subset part of the data); its last line."""
    with _maintenance_lock(settings):
        open_repository(settings)
        run(settings, "unlock")
        args = ["check"]
        if read_data_subset:
            args.append(f"--read-data-subset={read_data_subset}")
        proc = run(settings, *args)
    lines = (proc.stdout or b"").decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "no errors were found"


def repository_size(settings: Settings) -> int:
    """Bytes the repository's data takes (compressed, encrypted), from its index."""
    data = _json(settings, "stats", "--mode", "raw-data")
    return int((data or {}).get("total_size", 0))
