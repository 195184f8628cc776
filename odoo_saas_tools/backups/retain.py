"""Apply the retention policy to one tenant's backups, locally and in the bucket."""

from __future__ import annotations

import contextlib
import logging
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from odoo_saas_tools.backups import own_backups, restic
from odoo_saas_tools.backups import s3 as s3mod
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
class PruneResult:
    database: str
    kept_local: list[tuple[str, list[str]]] = field(default_factory=list)
    deleted_local: list[str] = field(default_factory=list)
    kept_remote: list[tuple[str, list[str]]] = field(default_factory=list)
    deleted_remote: list[str] = field(default_factory=list)

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


def prune_tenant(
    settings: Settings,
    database: str,
    *,
    dry_run: bool = False,
    remote: bool = True,
    now: datetime | None = None,
    s3: Any = None,
    remote_backups: list[s3mod.RemoteBackup] | None = None,
    directory: Path | None = None,
) -> PruneResult:
    """Delete what the policy does not keep; with dry_run only say what would go.

    directory: another local folder holding this tenant's backups (replaced/), local only.
    """
    policy = Policy.from_settings(settings)
    tz = zoneinfo.ZoneInfo(settings.backup_tz)
    now = now or datetime.now(timezone.utc)
    result = PruneResult(database)

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

    if remote and settings.s3_enabled and directory is None:
        if remote_backups is None:
            remote_backups = s3mod.list_backups(settings, database, s3=s3)
        # Only verified uploads exist under final keys, so every object counts as good.
        cands = [Candidate(b.timestamp, True, b.key) for b in remote_backups]
        decision = decide(cands, policy, now, tz)
        result.kept_remote = list(decision.keep)
        result.deleted_remote = list(decision.delete)
        if not dry_run and decision.delete:
            s3mod.delete(settings, decision.delete, s3=s3)
            log.info("pruned %d off-site backup(s) of %s", len(decision.delete), database)
    return result


def prune_all(
    settings: Settings,
    *,
    dry_run: bool = False,
    databases: list[str] | None = None,
    now: datetime | None = None,
) -> list[PruneResult]:
    """Every tenant that has backups here or in the bucket."""
    if restic.enabled(settings):
        return _prune_all_restic(settings, dry_run=dry_run, databases=databases, now=now)
    remote_all: dict[str, list[s3mod.RemoteBackup]] = {}
    client = None
    if settings.s3_enabled:
        client = s3mod.client(settings)
        for b in s3mod.list_backups(settings, s3=client):
            remote_all.setdefault(b.database, []).append(b)
    names = databases or sorted(set(local_databases(settings)) | set(remote_all))
    return [
        prune_tenant(
            settings,
            db,
            dry_run=dry_run,
            now=now,
            s3=client,
            remote_backups=remote_all.get(db, []),
        )
        for db in names
    ] + prune_replaced(settings, dry_run=dry_run, now=now)


def prune_replaced(
    settings: Settings, *, dry_run: bool = False, now: datetime | None = None
) -> list[PruneResult]:
    """Last backups of tenants replaced by `restore --force` follow each tenant's policy too."""
    from odoo_saas_tools.backups.restore import replaced_dir

    directory = replaced_dir(settings)
    if not directory.is_dir():
        return []
    tenants = sorted(
        {parsed.database for p in directory.iterdir() if (parsed := parse_backup_name(p.name))}
    )
    return [
        prune_tenant(settings, db, dry_run=dry_run, now=now, remote=False, directory=directory)
        for db in tenants
    ]


def _prune_all_restic(
    settings: Settings,
    *,
    dry_run: bool,
    databases: list[str] | None,
    now: datetime | None,
) -> list[PruneResult]:
    """Local files as usual; in the repository `restic forget` per tenant, then `restic prune`."""
    restic.open_repository(settings)
    tenants = sorted({s.tenant for s in restic.snapshots(settings)})
    results = []
    for db in databases or sorted(set(local_databases(settings)) | set(tenants)):
        result = prune_tenant(settings, db, dry_run=dry_run, remote=False, now=now)
        forgot = restic.forget(settings, db, dry_run=dry_run)
        result.kept_remote = [(f"{restic.SCHEME}{db}@{i[:8]}", ["policy"]) for i in forgot.kept]
        result.deleted_remote = [f"{restic.SCHEME}{db}@{i[:8]}" for i in forgot.removed]
        results.append(result)
    if not dry_run:
        restic.prune(settings)
    return results
