"""`odoo-saas db drop NAME`: remove a tenant's database and filestore, after a last backup.

The last backup (zip with filestore) goes to $BACKUP_DIR/dropped first; if it fails nothing is
dropped. `--no-backup` skips it. Connected users are disconnected. PostgreSQL's own databases,
templates and odoo-saas's cache databases are refused.

Exit codes: 0 dropped, 1 failed, 2 refused name, 3 NAME does not exist, 4 busy.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.core.errors import EXIT_UNCHANGED, ConfigError, SaasError
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants import filestore
from odoo_saas_tools.tenants.names import check_name, tenant_lock


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "drop",
        help="drop a tenant (database and filestore), after a last backup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", metavar="NAME", help="database to drop")
    p.add_argument(
        "--no-backup",
        dest="backup",
        action="store_false",
        help="do not write a last backup to $BACKUP_DIR/dropped first",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    name = check_name(args.name, settings)
    with tenant_lock(settings, name, operation="drop"):
        row = databases.info(settings, name)
        if row is None:
            raise SaasError(f"{name} does not exist: nothing dropped", EXIT_UNCHANGED)
        if row.is_template:
            raise ConfigError(f"{name} is a template database: refusing to drop it")
        if not row.owned:
            raise ConfigError(f"{name} is not owned by {settings.db_user}: not a tenant of ours")
        backup_path = None
        if args.backup:
            from odoo_saas_tools.backups.backup import create_backup

            result = create_backup(settings, name, settings.backup_dir / "dropped", lock=False)
            backup_path = str(result.path)
        databases.drop(settings, name)
        fs = settings.filestore(name)
        had_filestore = fs.exists()
        filestore.remove(fs)
    if args.json:
        print_json({"database": name, "backup": backup_path, "filestore_removed": had_filestore})
    else:
        note = f" (last backup: {backup_path})" if backup_path else " (no backup taken)"
        print(f"dropped {name}{note}")
    return 0
