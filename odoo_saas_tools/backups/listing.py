"""The backups kept for tenants: here (each tenant's folder, and the last backups of dropped and
replaced tenants) or off-site (the engine's, backups/offsite: an s3 row is a verified copy, an
s3:// URL; a restic row a snapshot, restic:TENANT@ID, without a size of its own since its chunks
are shared). `backup list` and the control API's `GET /v1/tenants/{name}/backups` both read them
here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from odoo_saas_tools.backups import offsite
from odoo_saas_tools.backups.names import offsite_url, parse_backup_name, read_checksum
from odoo_saas_tools.backups.retain import local_backups, local_databases
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import Settings

# where a tenant's own backups can be, besides its folder: a drop's and a replacing restore's
# last backup (tenants.drop, backups.restore.replaced_dir)
LAST_BACKUP_DIRS = ("dropped", "replaced")


def list_backups(
    settings: Settings, databases: list[str], *, remote: bool = False
) -> list[dict[str, Any]]:
    """Every backup of these tenants (none named: every tenant's), oldest first per tenant."""
    return remote_rows(settings, databases) if remote else local_rows(settings, databases)


def _row(db: str, path: Path, where: str) -> dict[str, Any]:
    parsed = parse_backup_name(path.name)
    assert parsed is not None
    return {
        "database": db,
        "file": str(path),
        "taken_at": parsed.timestamp.isoformat(),
        "format": parsed.ext,
        "size_bytes": path.stat().st_size,
        "sha256": read_checksum(path),
        "offsite": offsite_url(path),
        "where": where,
    }


def local_rows(
    settings: Settings, databases: list[str], *, last_backups: bool = False
) -> list[dict[str, Any]]:
    """Backups in each tenant's folder (every tenant's when databases is empty), oldest first;
    last_backups: also those of `dropped/` and `replaced/` named after the tenant."""
    rows = []
    for db in databases or local_databases(settings):
        found = [_row(db, p, "local") for p in local_backups(settings, db)]
        if last_backups:
            for where in LAST_BACKUP_DIRS:
                directory = settings.backup_dir / where
                found += [_row(db, p, where) for p in local_backups(settings, db, directory)]
        rows += sorted(found, key=lambda r: r["taken_at"])
    return rows


def remote_rows(settings: Settings, databases: list[str]) -> list[dict[str, Any]]:
    """The off-site copies (or snapshots) of these tenants (every one when empty); `where` is
    the engine's name, as a local row's is its folder."""
    engine = offsite.engine(settings)
    if engine is None:
        raise ConfigError("AWS_S3_BUCKET is not set: there are no off-site copies to list")
    return [{**row, "where": engine.name} for row in engine.listing(databases)]
