"""`backup list`: the backups kept for each tenant, here or (--remote) off-site.

--remote lists what the off-site engine holds: the verified copies in the bucket (s3), or the
repository's snapshots (restic:TENANT@ID) with BACKUP_OFFSITE=restic.
"""

from __future__ import annotations

import argparse
import functools
from typing import Any

from odoo_saas_tools.backups.listing import list_backups
from odoo_saas_tools.core.output import human_size, print_listing
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
    rows = list_backups(settings, args.databases, remote=args.remote)
    line = functools.partial(_line, remote=args.remote)
    return print_listing(rows, args.json, empty="no backups", line=line)


def _line(row: dict[str, Any], *, remote: bool) -> str:
    where = row.get("url") or row["file"]
    flags = ""
    if not remote:
        flags = " ".join(
            f for f, on in (("no-checksum", not row["sha256"]), ("off-site", row["offsite"])) if on
        )
    size = human_size(row["size_bytes"]) if row["size_bytes"] is not None else "-"
    return f"{row['database']:<30} {row['taken_at']:<25} {size:>10}  {where} {flags}".rstrip()
