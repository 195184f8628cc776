"""`odoo-saas db rename OLD NEW`: rename a tenant's database and filestore together.

PostgreSQL renames only a database nobody is connected to, so OLD's users are disconnected (as
Odoo's rename does). The filestore is moved right after; if that fails the database is renamed
back, so the tenant is never split between two names.

Exit codes: 0 renamed, 1 failed or OLD missing (nothing changed), 2 bad name, 3 NEW exists,
4 busy.
"""

from __future__ import annotations

import argparse
import logging

from odoo_saas_tools.core.errors import EXIT_UNCHANGED, ConfigError, SaasError
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants import filestore
from odoo_saas_tools.tenants.names import check_name, tenant_locks

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "rename",
        help="rename a tenant (database and filestore)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("old", metavar="OLD", help="current name")
    p.add_argument("new", metavar="NEW", help="new name")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


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
    return moved


def run(args: argparse.Namespace, settings: Settings) -> int:
    old = check_name(args.old, settings, what="current database")
    new = check_name(args.new, settings, what="new database")
    if old == new:
        raise SaasError(f"{old} already has that name: nothing to do", EXIT_UNCHANGED)
    with tenant_locks(settings, old, new, operation="rename"):
        row = databases.info(settings, old)
        if row is None:
            raise SaasError(f"{old} does not exist")
        if row.is_template:
            raise ConfigError(f"{old} is a template database: refusing to rename it")
        if databases.exists(settings, new):
            raise SaasError(f"{new} already exists: nothing changed", EXIT_UNCHANGED)
        moved = rename_tenant(settings, old, new)
    if args.json:
        print_json({"old": old, "new": new, "filestore_moved": moved})
    else:
        print(f"renamed {old} to {new}" + ("" if moved else " (it had no filestore)"))
    return 0
