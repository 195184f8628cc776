"""`backup prune`: apply the retention policy now, locally and off-site.

BACKUP_RETENTION_DAYS, or BACKUP_KEEP_DAILY/WEEKLY/MONTHLY when any is set; the newest good
backup of each tenant is always kept. `--dry-run` only shows what would be deleted.
Off-site, with BACKUP_OFFSITE=s3 the objects the policy does not keep are deleted from the
bucket; with BACKUP_OFFSITE=restic the policy forgets each tenant's snapshots, then the
repository's maintenance (`restic prune`, under an exclusive lock) removes the data nothing
references any more.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.backups.retain import retain_all
from odoo_saas_tools.backups.retention import Policy
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "prune", help="delete backups the retention policy no longer keeps", description=__doc__
    )
    p.add_argument("databases", nargs="*", metavar="DB", help="only these tenants")
    p.add_argument("--dry-run", action="store_true", help="show what would be deleted")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    results = retain_all(settings, dry_run=args.dry_run, databases=args.databases or None)
    if args.json:
        print_json(
            {
                "dry_run": args.dry_run,
                "policy": Policy.from_settings(settings).describe(),
                "tenants": [r.as_dict() for r in results],
            }
        )
        return 0
    verb = "would delete" if args.dry_run else "deleted"
    total = 0
    for r in results:
        for where in r.deleted():
            print(f"{verb} {where}")
        total += len(r.deleted_local) + len(r.deleted_remote)
    policy = Policy.from_settings(settings).describe()
    print(f"backup prune: {policy}; {len(results)} tenant(s), {verb} {total} backup(s)")
    return 0
