"""`odoo-saas tenant suspend NAME --reason TEXT`: what POST /v1/tenants/NAME/suspend does.

NAME is the tenant's name (its database is TENANT_DB_PREFIX + NAME). The catalog records the
suspension and Odoo's routing is told (see docs/api.md for what the tenant's users get).
Exit codes: 0 suspended (or already was), 2 bad name or reason, 3 no such tenant, 4 a job is
running on it.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.control import suspension, tenant_view
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "suspend",
        help="suspend a tenant (unpaid invoice, abuse)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", metavar="NAME", help="tenant name (the database gets the prefix)")
    p.add_argument("--reason", required=True, help="one line, shown to its users")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    result = suspension.suspend(settings, tenant_view.database(settings, args.name), args.reason)
    if args.json:
        print_json(result)
    else:
        print(f"{'suspended' if result['changed'] else 'already suspended'}: {args.name}")
    return 0
