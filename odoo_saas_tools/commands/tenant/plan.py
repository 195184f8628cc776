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

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.control import plans
from odoo_saas_tools.core.output import print_change
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
    tenant, plan = result["tenant"], result["plan"]
    unchanged = None
    if not result["changed"] and not result["modules_installed"]:
        unchanged = f"tenant {tenant} is on plan {plan} with its modules already: nothing changed"
    installed = ", ".join(result["modules_installed"]) or "none"
    done = f"tenant {tenant} is on plan {plan} (was {result['previous_plan']}; "
    done += f"modules installed: {installed})"
    return print_change(result, args.json, unchanged=unchanged, done=done)
