"""Renaming a tenant: database and filestore move together, or neither does."""

from __future__ import annotations

import logging

from odoo_saas_tools.core.errors import EXIT_UNCHANGED, ConfigError, SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants import catalog_rows, checked_files, filestore
from odoo_saas_tools.tenants.locks import tenant_locks
from odoo_saas_tools.tenants.names import ensure_target_free

log = logging.getLogger(__name__)


def rename(settings: Settings, old: str, new: str) -> bool:
    """Rename old to new under both locks (names already checked); whether a filestore moved."""
    if old == new:
        raise SaasError(f"{old} already has that name: nothing to do", EXIT_UNCHANGED)
    with tenant_locks(settings, old, new, operation="rename") as locks:
        row = databases.info(settings, old, conn=locks.session)
        if row is None:
            raise SaasError(f"{old} does not exist")
        if row.is_template:
            raise ConfigError(f"{old} is a template database: refusing to rename it")
        ensure_target_free(settings, new, conn=locks.session)
        locks.ensure_held("rename")
        with catalog_rows.renaming(settings, old, new):
            return rename_tenant(settings, old, new)


def rename_tenant(settings: Settings, old: str, new: str) -> bool:
    """Rename database then filestore; undo the database rename if the move fails.

    Returns whether a filestore was moved.
    """
    old_fs, new_fs = settings.filestore(old), settings.filestore(new)
    if new_fs.exists():
        raise SaasError(f"a filestore for {new} already exists ({new_fs}): remove it first")
    databases.rename(settings, old, new)
    try:
        moved = filestore.rename(old_fs, new_fs)
    except BaseException as exc:
        log.error("moving the filestore failed (%s): renaming the database back", exc)
        databases.rename(settings, new, old)
        raise
    checked_files.move(settings, old, new)
    return moved
