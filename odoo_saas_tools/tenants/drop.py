"""Dropping a tenant: database and filestore, after an optional last backup.

The last backup is taken by a function the caller passes (backups sit above tenants), inside the
same lock, so nothing can change the tenant between its last backup and its end.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from odoo_saas_tools.core.errors import EXIT_UNCHANGED, ConfigError, SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants import filestore
from odoo_saas_tools.tenants.locks import tenant_lock

# (settings, database, directory) -> the backup file written
LastBackup = Callable[[Settings, str, Path], Path]


def drop(settings: Settings, name: str, *, last_backup: LastBackup | None) -> dict:
    """Drop tenant name (already checked); nothing is dropped when the last backup fails."""
    with tenant_lock(settings, name, operation="drop") as lock:
        row = databases.info(settings, name)
        if row is None:
            raise SaasError(f"{name} does not exist: nothing dropped", EXIT_UNCHANGED)
        if row.is_template:
            raise ConfigError(f"{name} is a template database: refusing to drop it")
        if not row.owned:
            raise ConfigError(f"{name} is not owned by {settings.db_user}: not a tenant of ours")
        backup_path = None
        if last_backup is not None:
            backup_path = str(last_backup(settings, name, settings.backup_dir / "dropped"))
        lock.ensure_held("drop")
        databases.drop(settings, name)
        fs = settings.filestore(name)
        had_filestore = fs.exists()
        filestore.remove(fs)
    return {"database": name, "backup": backup_path, "filestore_removed": had_filestore}
