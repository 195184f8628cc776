"""`odoo-saas db drop NAME`: remove a tenant's database and filestore, after a last backup.

The last backup (zip with filestore) goes to $BACKUP_DIR/dropped first; if it fails nothing is
dropped. `--no-backup` skips it. Connected users are disconnected. PostgreSQL's own databases,
templates and odoo-saas's cache databases are refused.

NAME left unfinished by a killed create or provisioning (never handed out) is dropped without a
backup.

Exit codes: 0 dropped, 1 failed, 2 refused name, 3 NAME does not exist, 4 busy.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.backups.backup import last_backup
from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants.drop import drop
from odoo_saas_tools.tenants.names import check_name


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "drop",
        "drop a tenant (database and filestore), after a last backup",
        __doc__,
        func=run,
    )
    p.add_argument("name", metavar="NAME", help="database to drop")
    p.add_argument(
        "--no-backup",
        dest="backup",
        action="store_false",
        help="do not write a last backup to $BACKUP_DIR/dropped first",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    name = check_name(args.name, settings)
    result = drop(settings, name, last_backup=last_backup if args.backup else None)
    if args.json:
        print_json(result)
    else:
        backup = result["backup"]
        note = f" (last backup: {backup})" if backup else " (no backup taken)"
        if result.get("unfinished"):
            note = f" (unfinished, never handed out: {result['unfinished']})"
        print(f"dropped {name}{note}")
    return 0
