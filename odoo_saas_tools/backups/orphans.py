"""The sweep of everything killed operations leave: the databases, filestores and roles
(tenants.sweep), then the backup files.

The `.partial` file of a backup whose writer is gone (a killed `restore --force` or `drop`
leaves its last backup's in $BACKUP_DIR/replaced or /dropped) is removed. Its writer holds the
lock of the tenant the file is named after (in PostgreSQL: seen from every container), and its
pid is in the name (seen in this PID namespace only): both must say it is gone.

Run by `odoo-saas db sweep` and by pre-flight at every start of the stack.
"""

from __future__ import annotations

import logging
from pathlib import Path

from odoo_saas_tools.backups import names
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.locks import is_locked
from odoo_saas_tools.tenants import sweep as tenants_sweep
from odoo_saas_tools.tenants.hidden import Orphan

log = logging.getLogger(__name__)

failed = tenants_sweep.failed


def sweep(settings: Settings, *, dry_run: bool = False) -> list[Orphan]:
    """Put every orphan right (or say what would be done); busy ones are left alone."""
    return tenants_sweep.sweep(settings, dry_run=dry_run) + _sweep_partials(settings, dry_run)


def _sweep_partials(settings: Settings, dry_run: bool) -> list[Orphan]:
    found = []
    for path in sorted(settings.backup_dir.rglob(f"*{names.PARTIAL_SUFFIX}")):
        rel = path.relative_to(settings.backup_dir)
        backup = names.partial_of(path.name)
        if backup is None or any(part.startswith(".") for part in rel.parts[:-1]):
            continue  # not a backup's (a download in a restore's hidden temporary folder)
        orphan = Orphan(str(rel), "partial", backup.database, False)
        if names.writer_alive(path.name) or is_locked(settings, backup.database):
            orphan.busy, orphan.action = True, "left alone: its backup is still being written"
        elif dry_run:
            orphan.action = "would be removed"
        else:
            orphan.action = _remove(path)
            log.warning("%s (partial backup of %s): %s", rel, backup.database, orphan.action)
        found.append(orphan)
    return found


def _remove(path: Path) -> str:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        return tenants_sweep.FAILED + tenants_sweep.reason(exc)
    return "removed"
