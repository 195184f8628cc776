"""Retention applied: what the policy (retention.py) does not keep is deleted here and forgotten
off-site by the engine (backups/offsite), which then does its maintenance.

`backup prune` (the command keeps its name) runs `retain_all`; `backup run` retains each tenant
after its backup. Retention never means the off-site store's garbage collection (restic's own
`prune`): that is the engine's `maintenance`.
"""

from __future__ import annotations

import contextlib
import logging
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from odoo_saas_tools.backups import offsite, own_backups
from odoo_saas_tools.backups.names import (
    default_dir,
    parse_backup_name,
    read_checksum,
    sidecars,
)
from odoo_saas_tools.backups.retention import Candidate, Policy, decide
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class RetainResult:
    """One tenant's retention: local files, and the engine's references off-site."""

    database: str
    kept_local: list[tuple[str, list[str]]] = field(default_factory=list)
    deleted_local: list[str] = field(default_factory=list)
    kept_remote: list[tuple[str, list[str]]] = field(default_factory=list)
    deleted_remote: list[str] = field(default_factory=list)
    remote_url: Callable[[str], str] = field(default=str, repr=False, compare=False)

    def deleted(self) -> list[str]:
        """Every deleted backup as a user names it (a path, an s3:// URL, a restic source)."""
        return self.deleted_local + [self.remote_url(ref) for ref in self.deleted_remote]

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "kept_local": [{"file": f, "reasons": r} for f, r in self.kept_local],
            "deleted_local": self.deleted_local,
            "kept_remote": [{"key": k, "reasons": r} for k, r in self.kept_remote],
            "deleted_remote": self.deleted_remote,
        }


def local_backups(settings: Settings, database: str, directory: Path | None = None) -> list[Path]:
    """Finished backups of one tenant in $BACKUP_DIR/<db>/ (or directory), oldest first."""
    directory = directory or default_dir(settings, database)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        parsed = parse_backup_name(path.name)
        if parsed and parsed.database == database and path.is_file():
            found.append((parsed.timestamp, path))
    return [p for _, p in sorted(found)]


def local_databases(settings: Settings) -> list[str]:
    """Tenants that have a backup directory with at least one backup in it."""
    if not settings.backup_dir.is_dir():
        return []
    return sorted(
        d.name
        for d in settings.backup_dir.iterdir()
        if d.is_dir() and not d.name.startswith(".") and local_backups(settings, d.name)
    )


def local_candidates(paths: list[Path]) -> list[Candidate[Path]]:
    out = []
    for path in paths:
        parsed = parse_backup_name(path.name)
        assert parsed is not None
        out.append(Candidate(parsed.timestamp, read_checksum(path) is not None, path))
    return out


def retain_local(
    settings: Settings,
    database: str,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    directory: Path | None = None,
) -> RetainResult:
    """Delete the tenant's local backups the policy does not keep; with dry_run only say what
    would go. directory: another local folder holding this tenant's backups (replaced/)."""
    policy = Policy.from_settings(settings)
    tz = zoneinfo.ZoneInfo(settings.backup_tz)
    now = now or datetime.now(timezone.utc)
    result = RetainResult(database)
    local = decide(local_candidates(local_backups(settings, database, directory)), policy, now, tz)
    result.kept_local = [(str(p), why) for p, why in local.keep]
    for path in local.delete:
        result.deleted_local.append(str(path))
        if not dry_run:
            own_backups.forget(settings, path)
            for extra in (path, *sidecars(path)):
                with contextlib.suppress(FileNotFoundError):
                    extra.unlink()
            log.info("pruned %s", path)
    return result


def retain_all(
    settings: Settings,
    *,
    dry_run: bool = False,
    databases: list[str] | None = None,
    now: datetime | None = None,
) -> list[RetainResult]:
    """Every tenant that has backups here or off-site (or `databases`), the last backups of
    replaced tenants; then, unless dry_run, the off-site store's maintenance."""
    engine = offsite.engine(settings)
    remote: dict[str, offsite.Retained] = {}
    if engine is not None:
        engine.open()
        remote = engine.retain(databases, dry_run=dry_run, now=now)
    results = []
    for db in databases or sorted(set(local_databases(settings)) | set(remote)):
        result = retain_local(settings, db, dry_run=dry_run, now=now)
        if engine is not None and db in remote:
            result.kept_remote, result.deleted_remote = remote[db].kept, remote[db].removed
            result.remote_url = engine.url
        results.append(result)
    results += retain_replaced(settings, dry_run=dry_run, now=now)
    if engine is not None and not dry_run:
        engine.maintenance()
    return results


def retain_replaced(
    settings: Settings, *, dry_run: bool = False, now: datetime | None = None
) -> list[RetainResult]:
    """Last backups of tenants replaced by `restore --force` follow each tenant's policy too."""
    from odoo_saas_tools.backups.restore import replaced_dir

    directory = replaced_dir(settings)
    if not directory.is_dir():
        return []
    tenants = sorted(
        {parsed.database for p in directory.iterdir() if (parsed := parse_backup_name(p.name))}
    )
    return [
        retain_local(settings, db, dry_run=dry_run, now=now, directory=directory) for db in tenants
    ]
