"""Backups this stack wrote, unchanged since: their attachments hold what their names say.

A restore may hard-link a file already on disk in place of a backup's member only when both hold
the same bytes (archive.FileReuse). For a backup of unknown origin that means reading and
hashing each member first. `db backup` hashed every attachment while copying it into the zip:
it knows which members match their name. This memo keeps, per backup file, the file's identity
once finished (device, inode, size, modification and change time) and the members that did not
match. A file with that identity still holds the bytes we wrote: its change time moves with
every write, rename, chmod, chown or utime, and only the clock sets it. A backup copied,
downloaded, moved or rewritten is of unknown origin again: its members are hashed.

Not caught: a write within the same clock tick as our stat (by the file's owner or root, who
can read every filestore anyway) and writes to the disk below the file system.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from odoo_saas_tools.core.files import read_trusted_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants import checked_files

MEMO_DIR = "own-backups"

Key = tuple[int, int, int, int, int]  # device, inode, size, mtime (ns), ctime (ns)


def _key(st: os.stat_result) -> Key:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def memo_path(settings: Settings, backup: Path) -> Path:
    name = hashlib.sha256(str(backup.resolve()).encode()).hexdigest()[:32]
    return settings.state_dir / MEMO_DIR / f"{name}.json"


@dataclass(frozen=True)
class Record:
    """What `db backup` knew of a file it wrote."""

    key: Key
    damaged: frozenset[str]  # filestore members whose bytes did not match their name

    def holds(self, st: os.stat_result) -> bool:
        """st describes the very file written, unchanged since."""
        return _key(st) == self.key


def record(settings: Settings, backup: Path, damaged: list[str], owner: int | None) -> None:
    """backup (finished: renamed, handed over) was written here; damaged as said above."""
    st = backup.stat()
    data = {"path": str(backup.resolve()), "key": list(_key(st)), "damaged": sorted(damaged)}
    checked_files.write_trusted(memo_path(settings, backup), data, owner)


def lookup(settings: Settings, backup: Path, owner: int) -> Record | None:
    """The memo of backup, if this process may trust it (see core.files.read_trusted_json)."""
    path = memo_path(settings, backup)
    data = read_trusted_json(path, checked_files.trusted_writers(owner))
    with contextlib.suppress(TypeError, ValueError, KeyError, AttributeError):
        if isinstance(data, dict) and data["path"] == str(backup.resolve()):
            key = tuple(int(v) for v in data["key"])
            if len(key) == 5:
                return Record(key, frozenset(str(d) for d in data["damaged"]))  # type: ignore[arg-type]
    return None


def forget(settings: Settings, backup: Path) -> None:
    """The backup is gone (pruned): so is its memo."""
    with contextlib.suppress(OSError):
        memo_path(settings, backup).unlink()
