"""Off-site engines: where backups go besides $BACKUP_DIR, behind one interface.

BACKUP_OFFSITE names the engine, one module here each (`s3`: every backup file shipped whole
and proven; `restic`: deduplicated, encrypted snapshots instead of local files). `engine()` is
the one place that choice is read; nothing outside this folder asks which engine runs. A restore
source naming an engine's scheme (`s3://...`, `restic:...`) is opened by that engine's module
(`open_source`), whichever engine is configured.

A new engine is one module here with `SCHEME`, `Engine` (the protocol below) and
`open_source`, and its name in core/settings.py's OFFSITE_ENGINES (with what it needs set).

Words: *retention* (`retain`) decides which of a tenant's backups stay and forgets the others;
*maintenance* is the store's own housekeeping afterwards (restic: `restic prune`, its garbage
collection, on BACKUP_PRUNE_SCHEDULE; nothing for s3). `backup prune` is retention, then
maintenance.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from odoo_saas_tools.core.settings import OFFSITE_ENGINES, Settings

if TYPE_CHECKING:
    from odoo_saas_tools.backups.sources import Source


class LocalBackup(Protocol):
    """What `backup.create_backup` returns, as far as an engine cares."""

    path: Path
    size_bytes: int


@dataclass
class Shipment:
    """What an engine's `back_up` made of one tenant."""

    file: str  # the local file, or the engine's name of the backup (restic:acme@3f2a9c1d)
    size_bytes: int
    added_bytes: int | None = None  # what the store grew by, when it deduplicates
    uploaded: list[str] = field(default_factory=list)  # copies made by this run
    local: bool = True  # a local file was written (local retention applies)


@dataclass
class Retained:
    """What retention keeps and forgets of one tenant off-site: the engine's references (an S3
    key, a restic snapshot source), with why each kept one stays."""

    database: str
    kept: list[tuple[str, list[str]]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class Engine(Protocol):
    """One off-site store, built once per command from the settings."""

    name: str

    def open(self, *, create: bool = False) -> None:
        """Reach the store (and with `create` make a missing one) before any tenant is backed
        up: a wrong key fails here, once, before anything is written."""

    def back_up(
        self, db: str, take_local: Callable[[], LocalBackup], stop: threading.Event
    ) -> Shipment:
        """Back up tenant db off-site (the caller holds its lock); `take_local` writes the
        local backup file, for engines that ship one."""

    def retain(
        self,
        databases: list[str] | None = None,
        *,
        dry_run: bool = False,
        now: datetime | None = None,
    ) -> dict[str, Retained]:
        """Apply the retention policy off-site to these tenants (None: every tenant the store
        holds); with dry_run only say what would go."""

    def url(self, ref: str) -> str:
        """How a user names one of the references `retain` returns (a restore source)."""

    def listing(self, databases: list[str]) -> list[dict[str, Any]]:
        """`backup list --remote`'s rows: every backup in the store (of these tenants)."""

    def stored_bytes(self) -> int | None:
        """What the whole store takes, when the engine knows it cheaply; else None."""

    def maintenance_due(self) -> bool:
        """Whether the scheduled maintenance is due after a backup run."""

    def maintenance(self) -> dict[str, Any] | None:
        """The store's housekeeping (not retention); None when the engine has none."""


def engine(settings: Settings) -> Engine | None:
    """The configured engine, or None when backups stay local (no bucket)."""
    if settings.offsite is None:
        return None
    return _module(settings.offsite).Engine(settings)


def open_source(
    settings: Settings, text: str, *, purpose: str = "restore"
) -> AbstractContextManager[Source] | None:
    """The engine whose scheme `text` starts with opens it (a download, a snapshot); None when
    text names no engine's backup (a local file). `purpose` (restore, verify) names its
    temporary files, and lets `backup verify` name a whole store (`restic:`)."""
    for name in OFFSITE_ENGINES:
        module = _module(name)
        if text.startswith(module.SCHEME):
            return module.open_source(settings, text, purpose=purpose)
    return None


def tenant_of(settings: Settings, text: str) -> str | None:
    """The tenant an off-site source names one of the backups of (the engine's whose scheme text
    starts with), "" when it names none of this store's; None when text is no off-site source
    (a local file). The control API restores a tenant only from its own backups."""
    for name in OFFSITE_ENGINES:
        module = _module(name)
        if text.startswith(module.SCHEME):
            return module.tenant_of(settings, text) or ""
    return None


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name}")
