"""What a restore (or `backup verify`) reads: the backup named on the command line, one `load`.

A file (our zip or dump, Odoo's, a .sql.gz or .sql; detected from its content) is a
`LocalFile`. A text starting with an off-site engine's scheme is opened by that engine
(backups/offsite): `s3://BUCKET/KEY` is downloaded and checked, then is a LocalFile;
`restic:TENANT[@ID|@TIME]` is a snapshot streamed from the repository. Every source says what it
may load (`bound`, refused before anything is loaded when it says more), loads into an empty
scratch database (`load`), and checks itself for `backup verify` (`check`).
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from odoo_saas_tools.backups import archive, load_limit, loading, offsite, own_backups
from odoo_saas_tools.backups.names import parse_backup_name, read_checksum, sha256_file
from odoo_saas_tools.core.errors import ConfigError, SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants import checked_files

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checked:
    """What `check` proved: the source, its sha256 (when it has one), size, what it is."""

    file: str
    sha256: str
    size_bytes: int
    container: str


class Source(Protocol):
    name: str  # how messages name it (a file's name)
    label: str  # what a restore reports as its source
    kind: str  # archive.detect's kind, or the engine's
    manifest: dict[str, Any] | None  # Odoo's manifest.json, when there is one to read first

    def bound(self, settings: Settings) -> load_limit.Bound:
        """What loading it may write; refuses (TooBig) one that says it holds more."""

    def file_reuse(self, settings: Settings, tenant: str) -> archive.FileReuse | None:
        """Where its attachment files may already be on disk (None: nowhere)."""

    def load(
        self,
        settings: Settings,
        db: str,
        fs_dir: Path,
        limit: load_limit.Bound,
        *,
        jobs: int | None = None,
        progress: bool = False,
        reuse: archive.FileReuse | None = None,
    ) -> int:
        """Load into the existing empty database db, its files into fs_dir; files written."""

    def check(self, settings: Settings, *, then_load: bool = False) -> Checked:
        """Prove it intact (`then_load`: a restore test follows)."""


class LocalFile:
    """A backup file on this machine; `label` is how it was named (a path, an s3:// URL)."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label
        self.name = path.name

    @cached_property
    def kind(self) -> str:
        return archive.detect(self.path)

    @cached_property
    def manifest(self) -> dict[str, Any] | None:
        return archive.read_manifest(self.path, self.kind)

    def bound(self, settings: Settings) -> load_limit.Bound:
        writes = archive.check_room(self.path, self.kind, settings.data_dir)
        limit = load_limit.bound(settings, writes)
        limit.check(load_limit.declared(self.path, self.kind), f"{self.name}'s database dump")
        return limit

    def file_reuse(self, settings: Settings, tenant: str) -> archive.FileReuse:
        """The tenant it replaces (a roll-back) and the tenant the backup is of (a copy). Only
        files proven to hold a member's bytes are taken (archive.FileReuse): the manifest's
        word is no proof."""
        tenants = [tenant]
        origin = (self.manifest or {}).get("db_name")
        if isinstance(origin, str) and origin != tenant:
            with contextlib.suppress(ConfigError):
                settings.filestore(origin)  # a name that can be a directory of ours
                tenants.append(origin)
        owner = checked_files.files_owner(settings)
        checked = {
            settings.filestore(t): checked_files.open_memo(settings, t, owner) for t in tenants
        }
        own = own_backups.lookup(settings, self.path, owner)
        return archive.FileReuse(list(checked), owner, checked, own)

    def load(
        self,
        settings: Settings,
        db: str,
        fs_dir: Path,
        limit: load_limit.Bound,
        *,
        jobs: int | None = None,
        progress: bool = False,
        reuse: archive.FileReuse | None = None,
    ) -> int:
        return loading.load_backup(
            settings, db, self.path, self.kind, fs_dir, jobs, progress, reuse=reuse, limit=limit
        )

    def check(self, settings: Settings, *, then_load: bool = False) -> Checked:
        sha = check_checksum(self.path)
        if parse_backup_name(self.name) is None:
            log.warning("%s does not have a backup file name (<db>_<timestamp>.<ext>)", self.name)
        kind = check_container(self.path)
        return Checked(str(self.path), sha, self.path.stat().st_size, kind)


@contextlib.contextmanager
def open_source(
    settings: Settings, source: Path | str, *, purpose: str = "restore"
) -> Iterator[Source]:
    """The source `source` names, for the with block (a download lives that long)."""
    text = str(source)
    remote = offsite.open_source(settings, text, purpose=purpose)
    if remote is not None:
        with remote as opened:
            yield opened
        return
    path = Path(text)
    if not path.is_file():
        raise SaasError(f"backup file {path} does not exist")
    yield LocalFile(path, text)


def check_checksum(path: Path) -> str:
    """The file's sha256 if it matches the recorded one; SaasError otherwise."""
    if not path.is_file():
        raise SaasError(f"backup file {path} does not exist")
    recorded = read_checksum(path)
    if recorded is None:
        raise SaasError(f"{path.name}: no recorded checksum ({path.name}.sha256 is missing)")
    actual = sha256_file(path)
    if actual != recorded:
        raise SaasError(f"{path.name}: sha256 {actual} does not match the recorded {recorded}")
    return actual


def check_container(path: Path) -> str:
    """What the file is, after a structural check of it; SaasError when it is damaged."""
    kind = archive.detect(path)
    if kind in (archive.ZIP_PLAIN, archive.ZIP_CUSTOM):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                bad = zf.testzip()  # CRC of every member
        except (zipfile.BadZipFile, OSError) as exc:
            raise SaasError(f"{path.name} is not a valid zip: {exc}") from exc
        if bad:
            raise SaasError(f"{path.name}: member {bad} is damaged (CRC mismatch)")
        if not names & {archive.PLAIN_MEMBER, archive.CUSTOM_MEMBER}:
            raise SaasError(f"{path.name} holds no database dump")
    elif kind == archive.SQL_GZ:
        try:
            with gzip.open(path, "rb") as fh:
                while fh.read(1024 * 1024):
                    pass
        except (OSError, EOFError) as exc:
            raise SaasError(f"{path.name} is not a complete gzip stream: {exc}") from exc
    return kind
