"""`odoo-saas db rename OLD NEW`: rename a tenant's database and filestore together.

PostgreSQL renames only a database nobody is connected to, so OLD's users are disconnected (as
Odoo's rename does). The filestore is moved right after; if that fails the database is renamed
back, so the tenant is never split between two names.

Exit codes: 0 renamed, 1 failed or OLD missing (nothing changed), 2 bad name, 3 NEW exists,
4 busy.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants.names import check_name
from odoo_saas_tools.tenants.rename import rename


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers, "rename", "rename a tenant (database and filestore)", __doc__, func=run
    )
    p.add_argument("old", metavar="OLD", help="current name")
    p.add_argument("new", metavar="NEW", help="new name")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    old = check_name(args.old, settings, what="current database")
    new = check_name(args.new, settings, what="new database")
    moved = rename(settings, old, new)
    if args.json:
        print_json({"old": old, "new": new, "filestore_moved": moved})
    else:
        print(f"renamed {old} to {new}" + ("" if moved else " (it had no filestore)"))
    return 0
