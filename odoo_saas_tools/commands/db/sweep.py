"""`odoo-saas db sweep`: put right what killed restores and verifications left behind.

A scratch database nobody works on is dropped with its filestore; a tenant that a cut-off
restore had renamed away is put back online; one that a finished restore replaced is dropped.
Operations still running (their locks held) are left alone. Pre-flight does the same at every
start of the stack.

Exit codes: 0 done, 3 nothing to do, 1 failed (an orphan that could not be put right is
listed as "failed: ..."; the others are still put right).
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.backups.orphans import failed, sweep
from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.core.errors import EXIT_UNCHANGED
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "sweep",
        "remove or put back what killed restores left behind",
        __doc__,
        func=run,
    )
    p.add_argument("--dry-run", action="store_true", help="only say what would be done")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    orphans = sweep(settings, dry_run=args.dry_run)
    if args.json:
        print_json([o.as_dict() for o in orphans])
    else:
        for o in orphans:
            print(f"{o.name}  {o.kind}  {o.tenant or '-'}  {o.action}")
        if not orphans:
            print("nothing to sweep")
    if failed(orphans):
        return 1
    return 0 if orphans else EXIT_UNCHANGED
