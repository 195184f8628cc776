"""`db backup NAME [DIR]`: one tenant's database and filestore in one verified file.

DIR defaults to $BACKUP_DIR/<NAME>/ (one folder per tenant, the layout scheduled backups and
the S3 copies use). The file is <NAME>_<UTC timestamp>.<zip|dump|sql.gz> with a .sha256
sidecar; its path is the last line printed.

Formats: zip (default; Odoo's own layout, restorable by Odoo's database manager and
`odoo db load`), dump (custom-format pg_dump plus filestore in a zip, for parallel restore),
sql.gz (database only).

Exit codes: 0 written, 1 failed (nothing left behind), 2 bad arguments, 4 the tenant is busy.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from odoo_saas_tools.backups.backup import FORMATS, create_backup
from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.core.output import human_size, print_json
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "backup",
        "back up one tenant (database + filestore) to a file",
        __doc__,
        func=run,
    )
    p.add_argument("name", metavar="NAME", help="the tenant database")
    p.add_argument(
        "directory", metavar="DIR", nargs="?", type=Path, help="default: $BACKUP_DIR/NAME"
    )
    p.add_argument(
        "--format", "-f", dest="fmt", choices=FORMATS, default="zip", help="default: zip"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    result = create_backup(
        settings,
        args.name,
        args.directory,
        args.fmt,
        progress=not (args.json or args.quiet),
    )
    if args.json:
        print_json(result.as_dict())
        return 0
    if not args.quiet:
        print(
            f"{result.database}: {result.fmt} backup, {human_size(result.size_bytes)}, "
            f"{result.attachments} attachment files, {result.duration_seconds:.1f} s, "
            f"sha256 {result.sha256}"
        )
    print(result.path)
    return 0
