"""Dropping a tenant: database and filestore, after an optional last backup.

The last backup is taken by a function the caller passes (backups sit above tenants), inside the
same lock. Before it, the tenant is renamed away (journaled, like a restore's swap): its users
are disconnected and nobody can connect again, so the last backup is really the last state. A
failed backup renames it back; a killed drop is put back by `db sweep`. A tenant whose create
or provisioning was killed half-way (tenants.unfinished) is given up the same way: it was never
handed out, so there is no last state to back up.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from odoo_saas_tools.catalog import store
from odoo_saas_tools.catalog import tenants as catalog_tenants
from odoo_saas_tools.core.errors import EXIT_UNCHANGED, ConfigError, SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants import checked_files, filestore, unfinished
from odoo_saas_tools.tenants.hidden import DROPPING_PREFIX, put_back
from odoo_saas_tools.tenants.locks import tenant_lock

# (settings, database, directory, name the backup is of) -> the backup file written
LastBackup = Callable[[Settings, str, Path, str], Path]


def drop(settings: Settings, name: str, *, last_backup: LastBackup | None) -> dict:
    """Drop tenant name (already checked); nothing is dropped when the last backup fails."""
    with tenant_lock(settings, name, operation="drop") as lock:
        row = databases.info(settings, name)
        if row is None:
            left = unfinished.of_tenant(settings, name, conn=lock.conn)
            if left is None:
                raise SaasError(f"{name} does not exist: nothing dropped", EXIT_UNCHANGED)
            unfinished.discard(settings, left)
            return {"database": name, "backup": None, "unfinished": left.hidden}
        if row.is_template:
            raise ConfigError(f"{name} is a template database: refusing to drop it")
        if not row.owned:
            raise ConfigError(f"{name} is not owned by {settings.db_user}: not a tenant of ours")
        backup_path = None
        victim = name
        if last_backup is not None:
            victim = DROPPING_PREFIX + uuid.uuid4().hex[:12]
            _rename_away(settings, name, victim)
            try:
                backup_path = str(
                    last_backup(settings, victim, settings.backup_dir / "dropped", name)
                )
            except BaseException:
                put_back(settings, name, victim)
                raise
        lock.ensure_held("drop")
        databases.drop(settings, victim)
        fs = settings.filestore(victim)
        had_filestore = fs.exists()
        filestore.remove(fs)
        checked_files.forget_tenant(settings, name)
        forget(settings, name)
    return {"database": name, "backup": backup_path, "filestore_removed": had_filestore}


def forget(settings: Settings, name: str) -> None:
    """name's catalog row goes with it: a later tenant of that name starts afresh."""
    with store.existing_session(settings) as cr:
        if cr is not None:
            catalog_tenants.delete(cr, name)
            store.bump(cr)


def _rename_away(settings: Settings, name: str, hidden: str) -> None:
    """Disconnect everyone and keep them out: the database and filestore take a hidden name."""
    databases.set_comment(settings, name, databases.journal("drop", name, "dropping"))
    databases.rename(settings, name, hidden)  # terminates the users' sessions first
    try:
        filestore.rename(settings.filestore(name), settings.filestore(hidden))
    except BaseException:
        databases.rename(settings, hidden, name)
        databases.clear_comment(settings, name)
        raise
