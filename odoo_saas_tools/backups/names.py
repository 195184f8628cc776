"""Backup file names, temporary names and checksum sidecars: the one definition every module uses.

A finished backup is `<db>_<UTC %Y%m%dT%H%M%SZ>.<zip|dump|sql.gz>` (e.g.
`acme_20261126T171800Z.zip`) with a `<file>.sha256` sidecar in `sha256sum` format. While it is
being written it is `.<final name>.<pid>.partial`: hidden, never parsed as a backup, and
recognisably stale once its writer (the pid) is gone, so a sweep can remove it safely.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from odoo_saas_tools.core.files import atomic_write, path_component
from odoo_saas_tools.core.settings import BACKUP_FORMATS, Settings

EXTENSIONS = BACKUP_FORMATS
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
CHECKSUM_SUFFIX = ".sha256"
OFFSITE_SUFFIX = ".offsite"  # marker: the s3:// URL of a verified off-site copy
PARTIAL_SUFFIX = ".partial"
_EXT = "|".join(re.escape(ext) for ext in EXTENSIONS)
_NAME = re.compile(rf"(?P<db>.+)_(?P<ts>\d{{8}}T\d{{6}}Z)\.(?P<ext>{_EXT})")
_PARTIAL = re.compile(r"\.(?P<final>.+)\.(?P<pid>\d+)\.partial")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class BackupName:
    """What a backup's file name says: which database, when (UTC), which format."""

    database: str
    timestamp: datetime
    ext: str

    @property
    def name(self) -> str:
        return f"{self.database}_{self.timestamp.strftime(TIMESTAMP_FORMAT)}.{self.ext}"


def backup_name(database: str, fmt: str, when: datetime | None = None) -> str:
    """The final file name of a backup of `database` taken at `when` (default: now)."""
    if fmt not in EXTENSIONS:
        raise ValueError(f"unknown backup format {fmt!r}")
    when = (when or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{database}_{when.strftime(TIMESTAMP_FORMAT)}.{fmt}"


def parse_backup_name(name: str) -> BackupName | None:
    """The parts of a finished backup's name, or None for anything else (temp files, sidecars)."""
    match = _NAME.fullmatch(name)
    if not match:
        return None
    try:
        ts = datetime.strptime(match["ts"], TIMESTAMP_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return BackupName(match["db"], ts, match["ext"])


def default_dir(settings: Settings, database: str) -> Path:
    """Where one tenant's backups live: $BACKUP_DIR/<db>/ (like the S3 layout <prefix>/<db>/)."""
    return settings.backup_dir / path_component(database)


# --- temporary names -------------------------------------------------------------------------
def partial_path(final: Path, pid: int | None = None) -> Path:
    """The name a backup is written under until it is complete and checked."""
    return final.with_name(f".{final.name}.{pid or os.getpid()}{PARTIAL_SUFFIX}")


def new_partial(final: Path) -> tuple[int, Path]:
    """A new private file to write `final` under: 0600, created exclusively under a random
    name (mkstemp), so a link planted in the directory by another user is never written
    through, even by root. Written through the returned descriptor, never reopened by name."""
    fd, name = tempfile.mkstemp(
        prefix=f".{final.name}.", suffix=f".{os.getpid()}{PARTIAL_SUFFIX}", dir=final.parent
    )
    return fd, Path(name)


def partial_owner(name: str) -> int | None:
    """The pid that writes a partial file, or None if `name` is not a partial file."""
    match = _PARTIAL.fullmatch(name)
    return int(match["pid"]) if match else None


def partial_of(name: str) -> BackupName | None:
    """The backup a partial file is being written as (its tenant: whose lock its writer
    holds), or None when `name` is no partial file of a backup."""
    match = _PARTIAL.fullmatch(name)
    stem = match["final"] if match else ""
    while stem:  # `<final>.<random>` (mkstemp), `<final>.db.<random>` (the dump beside it)
        if (found := parse_backup_name(stem)) is not None:
            return found
        stem = stem.rpartition(".")[0]
    return None


def writer_alive(name: str) -> bool:
    """Whether the process named in a partial file's name runs in this PID namespace."""
    pid = partial_owner(name)
    return pid is not None and (pid == os.getpid() or _alive(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_partials(directory: Path, *, all_owners: bool = False) -> list[Path]:
    """Remove partial files (recursively) whose writer is gone; return what was removed.

    Partial files of a live process are left alone: a manual `db backup` may be running.
    """
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for path in directory.rglob(f"*{PARTIAL_SUFFIX}"):
        pid = partial_owner(path.name)
        if pid is None or (not all_owners and pid != os.getpid() and _alive(pid)):
            continue
        with contextlib.suppress(FileNotFoundError):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


# --- checksums -------------------------------------------------------------------------------
def checksum_path(final: Path) -> Path:
    return final.with_name(final.name + CHECKSUM_SUFFIX)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_checksum(final: Path, hexdigest: str) -> Path:
    """Write `<file>.sha256` (sha256sum format, so `sha256sum -c` works) atomically."""
    side = checksum_path(final)
    atomic_write(side, f"{hexdigest}  {final.name}\n")
    return side


def sidecars(final: Path) -> list[Path]:
    """Files that belong to a backup and go with it (checksum, off-site marker)."""
    return [checksum_path(final), offsite_marker_path(final)]


def offsite_marker_path(final: Path) -> Path:
    return final.with_name(final.name + OFFSITE_SUFFIX)


def mark_offsite(final: Path, url: str) -> None:
    """Remember that `url` holds a verified copy, so later runs need not upload it again."""
    atomic_write(offsite_marker_path(final), url + "\n")


def offsite_url(final: Path) -> str | None:
    try:
        return offsite_marker_path(final).read_text().strip() or None
    except OSError:
        return None


def read_checksum(final: Path) -> str | None:
    """The recorded sha256 of a backup, or None when there is no (readable) sidecar."""
    try:
        text = checksum_path(final).read_text()
    except OSError:
        return None
    first = text.split()[0] if text.split() else ""
    return first.lower() if re.fullmatch(r"[0-9a-fA-F]{64}", first) else None
