"""restic and its repository: how restic is run, what it is told, and what it says back.

One repository for every tenant, `s3:<endpoint>/<bucket>/<BACKUP_S3_PREFIX>/restic`, encrypted
on this side with BACKUP_ENCRYPTION_PASSWORD. Secrets reach restic through its environment only
(RESTIC_PASSWORD, AWS_*), never argv, and are blanked out of logs and errors (core.execute).
The arguments are built by pure functions (`*_args`), tested without running restic.

Words: `forget` is retention (which snapshots stay, per tenant); `maintenance` is `restic prune`,
the repository's garbage collection (frees the data no snapshot references), run on
BACKUP_PRUNE_SCHEDULE under an exclusive lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from odoo_saas_tools.backups.retention import Policy
from odoo_saas_tools.core import execute
from odoo_saas_tools.core.errors import BusyError, CommandError, ConfigError, SaasError
from odoo_saas_tools.core.files import atomic_write_json, file_lock
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)

SCHEME = "restic:"
HOST = "odoo-saas"  # one host name for every snapshot: parents are found wherever we run
TENANT_TAG = "tenant:"
ODOO_TAG = "odoo:"
# Where the last maintenance's time is kept (its name and key predate the word "maintenance").
STATE_FILE = ".restic-prune.json"
STATE_KEY = "last_prune"
MAINTENANCE_LOCK = ".restic-maintenance.lock"


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


@dataclass
class Forgotten:
    """What retention did to one tenant's snapshots (ids)."""

    database: str
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


# --- configuration ---------------------------------------------------------------------------
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


def environment(settings: Settings) -> dict[str, str]:
    """restic's whole environment: the repository, its key and the S3 keys travel here."""
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


# --- arguments (pure) ------------------------------------------------------------------------
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


def tenant_forget_args(db: str, policy: Policy, *, dry_run: bool = False) -> list[str]:
    """`restic forget` of one tenant's snapshots (our host, one group), JSON out."""
    args = ["forget", "--tag", TENANT_TAG + db, "--group-by", "", "--host", HOST]
    args += forget_args(policy)
    return [*args, "--dry-run", "--json"] if dry_run else [*args, "--json"]


def backup_args(
    db: str, version: str, paths: Sequence[Path], *, when: datetime | None = None, tz: str = "UTC"
) -> list[str]:
    """`restic backup` of a tenant's paths, tagged with the tenant and its Odoo version; `when`
    overrides the snapshot's time (written in tz, restic's TZ)."""
    args = ["backup", "--host", HOST, "--tag", f"{TENANT_TAG}{db},{ODOO_TAG}{version}"]
    if when is not None:
        local = when.astimezone(zoneinfo.ZoneInfo(tz))
        args += ["--time", local.strftime("%Y-%m-%d %H:%M:%S")]
    return [*args, "--json", *[str(p) for p in paths]]


def snapshots_args(tenant: str | None = None) -> list[str]:
    return ["snapshots", *(["--tag", TENANT_TAG + tenant] if tenant else []), "--json"]


def check_args(read_data_subset: str | None = None) -> list[str]:
    return ["check", *([f"--read-data-subset={read_data_subset}"] if read_data_subset else [])]


# --- running restic --------------------------------------------------------------------------
def _failure(settings: Settings, args: Sequence[str], proc: execute.Completed[bytes]) -> str:
    """One line for a failed restic command, naming the usual causes plainly."""
    text = execute.redact_text(
        (proc.stderr or b"").decode(errors="replace"), settings.secret_values()
    )
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
) -> execute.Completed[bytes]:
    """Run `restic ARGS` on the repository; SaasError with one clear line on failure."""
    _require(settings)
    settings.backup_dir.mkdir(parents=True, exist_ok=True)
    proc = execute.run(
        ["restic", *[str(a) for a in args]],
        env=environment(settings),
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


def popen(settings: Settings, *args: str) -> execute.Process[bytes]:
    """Start `restic ARGS` with its stdout to read (`restic dump`); wait with `wait_checked`."""
    _require(settings)
    return execute.popen(
        ["restic", *args],
        env=environment(settings),
        clean_env=True,
        secrets=settings.secret_values(),
        stdout=execute.PIPE,
    )


def run_json(settings: Settings, *args: str) -> Any:
    """Run restic with `--json` among args and read what it printed."""
    out = run(settings, *args).stdout or b""
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


# --- snapshots -------------------------------------------------------------------------------
def _parse_time(value: str) -> datetime:
    """restic's RFC 3339 times carry nanoseconds; Python reads microseconds."""
    value = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
    return datetime.fromisoformat(value)


def _tag(tags: Sequence[str], prefix: str) -> str:
    return next((t[len(prefix) :] for t in tags if t.startswith(prefix)), "")


def snapshots(settings: Settings, tenant: str | None = None) -> list[Snapshot]:
    """The tenants' snapshots (or one tenant's), oldest first."""
    out: list[Snapshot] = []
    for item in run_json(settings, *snapshots_args(tenant)) or []:
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


# --- retention, maintenance, check, size -----------------------------------------------------
def forget(settings: Settings, db: str, *, dry_run: bool = False) -> Forgotten:
    """Apply the retention policy to one tenant's snapshots (their data goes at the next
    maintenance)."""
    result = Forgotten(db)
    args = tenant_forget_args(db, Policy.from_settings(settings), dry_run=dry_run)
    for group in run_json(settings, *args) or []:
        result.kept += [s["id"] for s in group.get("keep") or []]
        result.removed += [s["id"] for s in group.get("remove") or []]
    if result.removed and not dry_run:
        log.info("forgot %d restic snapshot(s) of %s", len(result.removed), db)
    return result


def _state_path(settings: Settings) -> Path:
    return settings.backup_dir / STATE_FILE


def last_maintenance(settings: Settings) -> float | None:
    try:
        value = json.loads(_state_path(settings).read_text()).get(STATE_KEY)
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


def maintenance_due(settings: Settings, now: float | None = None) -> bool:
    """Whether a BACKUP_PRUNE_SCHEDULE time passed since the last maintenance."""
    from odoo_saas_tools.backups.scheduler import prev_fire

    now = time.time() if now is None else now
    last = last_maintenance(settings)
    if last is None:
        return True
    return prev_fire(settings.backup_maintenance_schedule, settings.backup_tz, now) > last


@contextlib.contextmanager
def _maintenance_lock(settings: Settings) -> Iterator[None]:
    """One prune or check at a time from this stack (restic adds its own exclusive lock)."""
    held = contextlib.ExitStack()
    try:
        settings.backup_dir.mkdir(parents=True, exist_ok=True)
        held.enter_context(file_lock(settings.backup_dir / MAINTENANCE_LOCK, blocking=False))
    except BlockingIOError:
        raise BusyError("another restic prune or check is running") from None
    except OSError as exc:
        raise SaasError(f"BACKUP_DIR {settings.backup_dir} is not usable: {exc.strerror}") from exc
    with held:
        yield


def maintenance(settings: Settings) -> dict[str, Any]:
    """`restic prune` (removes data no snapshot references); records when it ran."""
    with _maintenance_lock(settings):
        open_repository(settings)
        run(settings, "unlock")  # locks of killed runs only; live ones stay
        before = repository_size(settings)
        started = time.monotonic()
        run(settings, "prune")
        after = repository_size(settings)
        state = {STATE_KEY: time.time(), "freed_bytes": max(0, before - after)}
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
        proc = run(settings, *check_args(read_data_subset))
    lines = (proc.stdout or b"").decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "no errors were found"


def repository_size(settings: Settings) -> int:
    """Bytes the repository's data takes (compressed, encrypted), from its index."""
    data = run_json(settings, "stats", "--mode", "raw-data", "--json")
    return int((data or {}).get("total_size", 0))
