"""`backup list`: the backups kept for each tenant, here or (--remote) in the bucket.

With BACKUP_OFFSITE=restic, --remote lists the repository's snapshots (restic:TENANT@ID).
"""

from __future__ import annotations

import argparse
from typing import Any

from odoo_saas_tools.backups import restic, s3
from odoo_saas_tools.backups.names import offsite_url, parse_backup_name, read_checksum
from odoo_saas_tools.backups.prune import local_backups, local_databases
from odoo_saas_tools.core.errors import ConfigError
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


def local_rows(settings: Settings, databases: list[str]) -> list[dict[str, Any]]:
    rows = []
    for db in databases or local_databases(settings):
        for path in local_backups(settings, db):
            parsed = parse_backup_name(path.name)
            assert parsed is not None
            rows.append(
                {
                    "database": db,
                    "file": str(path),
                    "taken_at": parsed.timestamp.isoformat(),
                    "format": parsed.ext,
                    "size_bytes": path.stat().st_size,
                    "sha256": read_checksum(path),
                    "offsite": offsite_url(path),
                }
            )
    return rows


def remote_rows(settings: Settings, databases: list[str]) -> list[dict[str, Any]]:
    if not settings.s3_enabled:
        raise ConfigError("AWS_S3_BUCKET is not set: there are no off-site copies to list")
    wanted = set(databases)
    if restic.enabled(settings):
        return [
            {
                "database": snap.tenant,
                "url": snap.source,
                "snapshot_id": snap.id,
                "taken_at": snap.time.isoformat(),
                "odoo_version": snap.odoo_version,
                "size_bytes": None,
            }
            for snap in restic.snapshots(settings)
            if not wanted or snap.tenant in wanted
        ]
    return [
        {
            "database": b.database,
            "url": s3.url_for(settings, b.key),
            "taken_at": b.timestamp.isoformat(),
            "size_bytes": b.size_bytes,
            "uploaded_at": b.last_modified.isoformat(),
        }
        for b in s3.list_backups(settings)
        if not wanted or b.database in wanted
    ]


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
