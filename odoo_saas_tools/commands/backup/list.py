"""`backup list`: the backups kept for each tenant, here or (--remote) in the bucket.

With BACKUP_OFFSITE=restic, --remote lists the repository's snapshots (restic:TENANT@ID).
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.backups.listing import local_rows, remote_rows
from odoo_saas_tools.core.output import human_size, print_json
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "list", help="list backups (local, or --remote in S3)", description=__doc__
    )
    p.add_argument("databases", nargs="*", metavar="DB", help="only these tenants")
    p.add_argument(
        "--remote", action="store_true", help="list the off-site copies (or restic snapshots)"
    )
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    rows = (remote_rows if args.remote else local_rows)(settings, args.databases)
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no backups")
        return 0
    for row in rows:
        where = row.get("url") or row["file"]
        flags = ""
        if not args.remote:
            flags = " ".join(
                f
                for f, on in (("no-checksum", not row["sha256"]), ("off-site", row["offsite"]))
                if on
            )
        size = human_size(row["size_bytes"]) if row["size_bytes"] is not None else "-"
        print(f"{row['database']:<30} {row['taken_at']:<25} {size:>10}  {where} {flags}".rstrip())
    return 0
