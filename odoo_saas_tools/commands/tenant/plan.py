"""`odoo-saas tenant plan NAME PLAN`: what PATCH /v1/tenants/NAME {"plan": PLAN} does.
Exit codes: 0 done, 2 bad name or unknown plan, 3 no such tenant, 4 a job is running on it.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.control import plans, tenant_view
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("plan", help="put a tenant on another plan", description=__doc__)
    p.add_argument("name", metavar="NAME", help="tenant name (the database gets the prefix)")
    p.add_argument("plan", metavar="PLAN")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    result = plans.change(settings, tenant_view.database(settings, args.name), args.plan)
    if args.json:
        print_json(result)
    else:
        print(f"{args.name}: plan {result['plan']} (was {result['previous']})")
    return 0
