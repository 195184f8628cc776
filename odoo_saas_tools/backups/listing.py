"""`backup list`'s rows: the backups kept for each tenant, here or (remote) off-site.

Off-site rows are the engine's (backups/offsite): an s3 row is a verified copy (s3:// URL), a
restic row a snapshot (restic:TENANT@ID, no size of its own: its chunks are shared).
"""

from __future__ import annotations

from typing import Any

from odoo_saas_tools.backups import offsite
from odoo_saas_tools.backups.names import offsite_url, parse_backup_name, read_checksum
from odoo_saas_tools.backups.retain import local_backups, local_databases
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import Settings


def list_backups(
    settings: Settings, databases: list[str], *, remote: bool = False
) -> list[dict[str, Any]]:
    """Every backup of these tenants (none named: every tenant's), oldest first per tenant."""
    return remote_rows(settings, databases) if remote else local_rows(settings, databases)


def local_rows(settings: Settings, databases: list[str]) -> list[dict[str, Any]]:
    rows = []
    for db in databases or local_databases(settings):
        for path in local_backups(settings, db):
            parsed = parse_backup_name(path.name)
            assert parsed is not None
            rows.append(
                {
                    "database": db,
                    "file": str(path),
                    "taken_at": parsed.timestamp.isoformat(),
                    "format": parsed.ext,
                    "size_bytes": path.stat().st_size,
                    "sha256": read_checksum(path),
                    "offsite": offsite_url(path),
                }
            )
    return rows


def remote_rows(settings: Settings, databases: list[str]) -> list[dict[str, Any]]:
    engine = offsite.engine(settings)
    if engine is None:
        raise ConfigError("AWS_S3_BUCKET is not set: there are no off-site copies to list")
    return engine.listing(databases)
