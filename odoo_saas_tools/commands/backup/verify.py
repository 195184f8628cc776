"""`backup verify FILE`: check a backup against its recorded sha256 (and its structure).

With `--restore-test` it is also restored into a scratch database (reserved odoo_saas_
prefix), checked to be an Odoo 19 database, and dropped. FILE may be an s3:// URL: it is
downloaded (and checked) into a temporary directory first. FILE `restic:` runs `restic check`
on the repository (BACKUP_OFFSITE=restic); `restic:TENANT[@ID|@TIME]` also names the snapshot
that --restore-test loads. Exit 0 good, 1 damaged or failing.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.backups.verify import VerifyResult, verify
from odoo_saas_tools.core.output import human_size, print_json
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "verify",
        help="check a backup's recorded checksum (and --restore-test)",
        description=__doc__,
    )
    p.add_argument(
        "file", metavar="FILE", help="a backup file, s3://BUCKET/KEY, or restic:[TENANT[@ID|@TIME]]"
    )
    p.add_argument(
        "--restore-test",
        action="store_true",
        help="also restore it into a scratch database and check it is Odoo 19",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    return _report(args, verify(settings, args.file, restore=args.restore_test))


def _report(args: argparse.Namespace, result: VerifyResult) -> int:
    if args.json:
        print_json(result.as_dict())
        return 0
    line = f"OK {args.file}: sha256 matches, {result.container}, {human_size(result.size_bytes)}"
    if not result.sha256:  # the off-site store's own check (restic)
        line = f"OK {result.file}: {result.container}, repository {human_size(result.size_bytes)}"
    if result.restore_test:
        line += (
            f"; restores as Odoo {result.odoo_version} "
            f"({result.installed_modules} modules installed)"
        )
    print(line)
    return 0
