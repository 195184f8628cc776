"""`odoo-saas tenant plan NAME PLAN`: put a tenant on another plan (ODOO_SAAS_PLANS_FILE).

The plan's modules the tenant lacks are installed first (Odoo's own install, beside the running
server; nothing changes when it fails); then its plan, user and storage limits and trial change
together and the event `tenant.plan_changed` is recorded. Within 2 s Odoo applies the new user
limit. A suspended tenant stays suspended (`tenant resume`). Running it again installs what the
plan gained since and otherwise changes nothing.
Exit codes: 0 changed, 1 an install failed, 2 bad name or unknown plan, 3 nothing to do or no
such tenant, 4 busy.
"""

from __future__ import annotations

import argparse
import sys

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.control import plans
from odoo_saas_tools.core.errors import EXIT_UNCHANGED, SaasError
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants.provision import tenant_database


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "plan",
        "put a tenant on another plan (installs the plan's modules)",
        __doc__,
        func=run,
    )
    p.add_argument("name", metavar="NAME", help="tenant name (as given to tenant provision)")
    p.add_argument("plan", metavar="PLAN", help="a plan of ODOO_SAAS_PLANS_FILE")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    result = plans.change(settings, tenant_database(settings, args.name), args.plan)
    if args.json:
        print_json(result)
        sys.stdout.flush()
    if not result["changed"] and not result["modules_installed"]:
        raise SaasError(
            f"tenant {result['tenant']} is on plan {result['plan']} with its modules already: "
            "nothing changed",
            EXIT_UNCHANGED,
        )
    if not args.json:
        installed = ", ".join(result["modules_installed"]) or "none"
        print(
            f"tenant {result['tenant']} is on plan {result['plan']} "
            f"(was {result['previous_plan']}; modules installed: {installed})"
        )
    return 0
