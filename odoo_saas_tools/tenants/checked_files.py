"""Attachment files already hashed against their names, trusted while unchanged (a quick check).

A restore hard-links the attachment files a filestore on disk already holds, but only files
whose content still hashes to their name (backups/archive.py, FileReuse). Hashing 550 MiB costs
~0.5 s of CPU, taken from the database load on 2 cores (bench/README.md, eighth pass). Odoo
writes a file once under the SHA-1 of its content and never rewrites it, so a file whose
device, inode, size and modification time are those it had when it was last hashed still holds
those bytes: it is trusted without being read again, as git's index and rsync's quick check
trust unchanged files. Backups (which read every file anyway) and restores record what they
hashed, one memo per tenant in settings.state_dir.

A file modified less than 2 s (SETTLE_NS) before it was hashed is not recorded: a second write
within the file system's timestamp granularity would not show (git's "racily clean" files).
Not caught, where hashing at every restore would: bytes changed under the file system (bit
rot) since the last backup, and a change whose modification time was set back on purpose.
Damage found by a backup is logged there and the file is not trusted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from pathlib import Path

from odoo_saas_tools.core.files import atomic_write, path_component, read_trusted_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.runtime import privileges

log = logging.getLogger(__name__)

MEMO_DIR = "checked-files"
SETTLE_NS = 2 * 10**9  # a file must have been unchanged this long when hashed to be recorded

Key = tuple[int, int, int, int]  # device, inode, size, modification time (ns)


def _key(st: os.stat_result) -> Key:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _is_key(value: object) -> bool:
    """A key as we write it: four ints (a device, an inode, a size, a time)."""
    return isinstance(value, list) and len(value) == 4 and all(type(v) is int for v in value)


def memo_path(settings: Settings, tenant: str) -> Path:
    return settings.state_dir / MEMO_DIR / f"{path_component(tenant)}.json"


class CheckedFiles:
    """One filestore's files (by relative path) hashed against their names, with the stat
    they had then."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, Key] = {}
        self.changed = False

    @classmethod
    def of(cls, settings: Settings, tenant: str, owners: set[int]) -> CheckedFiles:
        """The memo of tenant; empty when there is none or it is not one of ours. Only a memo
        written by one of owners is read: anyone who could write it could make a restore link
        a file they changed."""
        memo = cls(memo_path(settings, tenant))
        data = read_trusted_json(memo.path, owners)
        files = data.get("files") if isinstance(data, dict) else None
        if isinstance(files, dict):  # an entry of another shape is absent: that file is hashed
            memo.entries = {rel: tuple(key) for rel, key in files.items() if _is_key(key)}
        return memo

    def holds(self, rel: str, st: os.stat_result) -> bool:
        """rel was hashed against its name as the very file st describes, unchanged since."""
        return self.entries.get(rel) == _key(st)

    def record(self, rel: str, st: os.stat_result) -> None:
        """rel, as st describes it, has just been hashed and matches its name."""
        if time.time_ns() - st.st_mtime_ns < SETTLE_NS or self.entries.get(rel) == _key(st):
            return
        self.entries[rel] = _key(st)
        self.changed = True

    def forget(self, rel: str) -> None:
        if self.entries.pop(rel, None) is not None:
            self.changed = True

    def save(self, owner: int | None = None) -> None:
        """Write the memo if it changed (0600, handed to owner); a failure only costs speed."""
        if not self.changed:
            return
        data = {"files": {rel: list(key) for rel, key in self.entries.items()}}
        if write_trusted(self.path, data, owner):
            self.changed = False


def write_trusted(path: Path, data: dict, owner: int | None) -> bool:
    """Write a memo (0600, in a 0700 folder, handed to owner); False when it could not be:
    a memo only saves work, its loss costs speed."""
    try:
        _make_dir(path.parent, owner)
        atomic_write(path, json.dumps(data, separators=(",", ":")), uid=owner)
    except OSError as exc:
        log.warning("could not write %s: %s", path, exc)
        return False
    return True


def _make_dir(path: Path, owner: int | None) -> None:
    """The memo folder, made by root (docker exec) for the runtime user who runs the backups."""
    if path.is_dir():
        return
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if owner is not None and os.geteuid() == 0:
        os.chown(path, owner, -1)


def files_owner(settings: Settings) -> int:
    """The uid owning the tenants' files: the runtime user's when running as root."""
    uid = os.geteuid()
    return privileges.lookup(settings.runtime_user).uid if uid == 0 else uid


def open_memo(settings: Settings, tenant: str, owner: int | None = None) -> CheckedFiles:
    """tenant's memo, as this process may trust it: written by root, us or the files' owner
    (files_owner() unless given)."""
    if owner is None:
        owner = files_owner(settings)
    return CheckedFiles.of(settings, tenant, trusted_writers(owner))


def trusted_writers(owner: int) -> set[int]:
    """Who may have written a memo this process trusts: root, us, the files' owner."""
    return {0, os.geteuid(), owner}


def remember(
    settings: Settings, tenant: str, files: dict[str, os.stat_result], owner: int | None
) -> None:
    """tenant's filestore holds these files, each just hashed against its name (or linked
    from one that was): its memo is replaced by them."""
    memo = CheckedFiles(memo_path(settings, tenant))
    for rel, st in files.items():
        memo.record(rel, st)
    memo.changed = True
    memo.save(owner)


def forget_tenant(settings: Settings, tenant: str) -> None:
    """The tenant is gone: so is its memo (a new tenant of that name starts afresh anyway)."""
    with contextlib.suppress(OSError):
        memo_path(settings, tenant).unlink()


def move(settings: Settings, old: str, new: str) -> None:
    """The tenant was renamed: its files (same inodes) keep their memo."""
    with contextlib.suppress(OSError):
        memo_path(settings, old).rename(memo_path(settings, new))
