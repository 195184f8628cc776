"""What `db list` learnt of each tenant, kept between runs: a tenant nobody wrote to is not asked
again.

Asking a tenant costs PostgreSQL a backend start and a catalog load; with 500 tenants that is
most of two seconds on 2 cores. The write counters of pg_stat_database, read for every database
in one query, say which tenants had rows inserted, updated or deleted since they were last asked
(a module state, the neutralized flag and the data behind the size all change by writes); only
those are asked again. A database's size can also shrink without a write (VACUUM FULL, a
vacuum truncating its tables): a size older than MAX_AGE is read again from the server, at most
SIZES_PER_LISTING of them per listing (the oldest first; each costs the server a directory
scan of the database, ~4 ms for an Odoo tenant), so no listing pays for all tenants at once.
PostgreSQL keeps its counters over a clean restart; a crash, a failover, pg_upgrade or a stats
reset discards them, and the memo with them. A new container keeps it (it is on the data volume,
settings.state_dir).

The memo only ever spares work: an entry of the wrong shape (a missing field, a wrong type, a
number out of range) is absent, and a memo someone else could have written is not read at all.
Each user keeps its own (`tenant-list-memo-<uid>.json`), read only when that user owns it and
nobody else can write it: the runtime user, who can write the data volume, could otherwise claim
a fresh write counter with a state, version or size of its choosing and make root's `db list`
show it. Within one user there is nothing to defend: a process of the runtime user can already
write to the tenants themselves.

The price: PostgreSQL publishes a session's counters up to about 10 s after its commit, so a
state can lag a write by that long. `db list --fresh` asks every tenant.

Filestore sizes are remembered by the modification times of the filestore's directories: Odoo
adds and removes files (content-addressed, never rewritten in place), which touches the
directory holding them; a directory touched in the last SETTLE seconds is measured every time
(a file may still be being written).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odoo_saas_tools.core.files import atomic_write, read_trusted_json
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)

MAX_AGE = 600.0  # seconds a remembered database size is trusted
SIZES_PER_LISTING = 50  # older sizes read again per listing, at most
SETTLE = 5.0  # seconds a filestore directory must be untouched before its size is remembered
# The states a listing remembers ("unreachable" is asked again every time).
STATES = frozenset({"not-odoo", "damaged", "other-version", "pending", "neutralized", "ready"})
MAX_BYTES = 2**63 - 1  # PostgreSQL's bigint: no size is larger


def memo_path(settings: Settings) -> Path:
    """This user's memo: root's and the runtime user's never share a file."""
    return settings.state_dir / f"tenant-list-memo-{os.geteuid()}.json"


@dataclass(frozen=True)
class TenantFacts:
    version: str | None
    state: str
    db_size_bytes: int
    internal_users: int | None = None  # active internal users (a plan's max_users counts them)


def _facts_of(entry: dict) -> TenantFacts:
    return TenantFacts(
        entry["version"], entry["state"], entry["db_size_bytes"], entry["internal_users"]
    )


def _count(value: Any) -> bool:
    """A byte count as we write it: an int (not a bool), 0 to MAX_BYTES."""
    return type(value) is int and 0 <= value <= MAX_BYTES


def _tenant_entry(raw: Any) -> dict | None:
    """raw as a tenant's entry when every field has the type and range we write, else None."""
    if not isinstance(raw, dict) or "version" not in raw:
        return None
    key, version, state = raw.get("key"), raw["version"], raw.get("state")
    size, sized = raw.get("db_size_bytes"), raw.get("sized")
    if not isinstance(key, str) or not (version is None or isinstance(version, str)):
        return None
    if not isinstance(state, str) or state not in STATES or not _count(size):
        return None
    if type(sized) not in (int, float) or not 0 <= sized < 2**53:  # NaN compares False
        return None
    if "internal_users" not in raw:  # written before the count was kept: asked again once
        return None
    users = raw["internal_users"]
    if users is not None and not _count(users):
        return None
    return {
        "key": key,
        "version": version,
        "state": state,
        "db_size_bytes": size,
        "sized": sized,
        "internal_users": users,
    }


def _filestore_entry(raw: Any) -> dict | None:
    if not isinstance(raw, dict):
        return None
    stamp, size = raw.get("stamp"), raw.get("bytes")
    if not isinstance(stamp, str) or not _count(size):
        return None
    return {"stamp": stamp, "bytes": size}


def _entries(raw: Any, sound: Callable[[Any], dict | None]) -> dict[str, dict]:
    """The sound entries of raw (a JSON object of entries); the others are absent."""
    if not isinstance(raw, dict):
        return {}
    found = {name: sound(entry) for name, entry in raw.items()}
    return {name: entry for name, entry in found.items() if entry is not None}


class ListingMemo:
    """The remembered facts of one cluster; `server` tells clusters and server lives apart."""

    def __init__(self, path: Path, server: str, data: Any) -> None:
        self.path = path
        self.server = server
        usable = isinstance(data, dict) and data.get("server") == server
        self.tenants = _entries(data.get("tenants"), _tenant_entry) if usable else {}
        self.filestores = _entries(data.get("filestores"), _filestore_entry) if usable else {}
        self.changed = not usable

    @classmethod
    def open(cls, settings: Settings, server: str, *, fresh: bool = False) -> ListingMemo:
        path = memo_path(settings)
        return cls(path, server, None) if fresh else cls.open_file(path, server)

    @classmethod
    def open_file(cls, path: Path, server: str) -> ListingMemo:
        """The memo at path, if this user wrote it (else an empty one)."""
        return cls(path, server, read_trusted_json(path, {os.geteuid()}))

    def facts(self, name: str, key: str) -> TenantFacts | None:
        """What was learnt of name, while nobody has written to it since (its key)."""
        entry = self.tenants.get(name)
        if not entry or entry["key"] != key:
            return None
        return _facts_of(entry)

    def remember(self, name: str, key: str, facts: TenantFacts) -> None:
        self.tenants[name] = {
            "key": key,
            "version": facts.version,
            "state": facts.state,
            "db_size_bytes": facts.db_size_bytes,
            "sized": time.time(),
            "internal_users": facts.internal_users,
        }
        self.changed = True

    def sizes_due(self, names: list[str]) -> list[str]:
        """Those of names whose remembered size is older than MAX_AGE: the oldest
        SIZES_PER_LISTING of them."""
        now = time.time()
        due = [n for n in names if now - self.tenants[n]["sized"] > MAX_AGE]
        due.sort(key=lambda n: self.tenants[n]["sized"])
        return due[:SIZES_PER_LISTING]

    def resized(self, name: str, db_size_bytes: int) -> TenantFacts:
        entry = self.tenants[name]
        entry["db_size_bytes"], entry["sized"] = db_size_bytes, time.time()
        self.changed = True
        return _facts_of(entry)

    def filestore_size(self, name: str, path: Path, measure: Callable[[Path], int]) -> int:
        """path's size: remembered while its directories are untouched, else measure(path)."""
        stamp = directory_stamp(path)
        entry = self.filestores.get(name)
        if stamp is not None and entry and entry["stamp"] == stamp:
            return entry["bytes"]
        size = measure(path)
        if stamp is not None:
            self.filestores[name] = {"stamp": stamp, "bytes": size}
            self.changed = True
        elif name in self.filestores:
            del self.filestores[name]
            self.changed = True
        return size

    def keep_only(self, names: set[str]) -> None:
        """Forget dropped tenants (a name reused later starts afresh anyway: its oid differs)."""
        for table in (self.tenants, self.filestores):
            for gone in set(table) - names:
                del table[gone]
                self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        data = {"server": self.server, "tenants": self.tenants, "filestores": self.filestores}
        try:
            atomic_write(self.path, json.dumps(data, separators=(",", ":")))
        except OSError as exc:  # a read-only data dir costs speed, not the listing
            log.debug("cannot keep the tenant list memo in %s: %s", self.path, exc.strerror)


def directory_stamp(path: Path) -> str | None:
    """The modification times of path and of the directories in it, as one string.

    "" for a missing filestore; None while a directory was touched in the last SETTLE seconds.
    """
    try:
        top = os.stat(path)
    except FileNotFoundError:
        return ""
    except OSError:
        return None
    newest = top.st_mtime
    parts = [str(top.st_mtime_ns)]
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    newest = max(newest, st.st_mtime)
                    parts.append(f"{entry.name}:{st.st_mtime_ns}")
    except OSError:
        return None
    if time.time() - newest < SETTLE:
        return None
    parts[1:] = sorted(parts[1:])
    return ";".join(parts)
