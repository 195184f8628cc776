"""`odoo-saas tenant resume NAME`: what POST /v1/tenants/NAME/resume does.
Exit codes: 0 active (or already was), 2 bad name, 3 no such tenant, 4 a job is running on it.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.control import suspension, tenant_view
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("resume", help="bring a suspended tenant back", description=__doc__)
    p.add_argument("name", metavar="NAME", help="tenant name (the database gets the prefix)")
    p.add_argument("--reason", default="", help="one line, kept with the change")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    result = suspension.resume(settings, tenant_view.database(settings, args.name), args.reason)
    if args.json:
        print_json(result)
    else:
        print(f"{'resumed' if result['changed'] else 'not suspended'}: {args.name}")
    return 0
