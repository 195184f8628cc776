"""`odoo-saas tenant plans`: the plans of ODOO_SAAS_PLANS_FILE, checked.

Reads and validates the file (a mistake is one line naming the plan and field) and mirrors the
plans' limits into the catalog, where Odoo reads them: run it after editing the file to check
it and apply it at once (the lifecycle loop applies it at its next turn too).
Exit codes: 0 valid, 2 the file is not.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.control import plans
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers, "plans", "check ODOO_SAAS_PLANS_FILE and list its plans", __doc__, func=run
    )
    p.add_argument("--json", action="store_true", help="print the plans as JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    declared = plans.available(settings)
    plans.mirror(settings, force=True)
    if args.json:
        print_json([plan.public() for _, plan in sorted(declared.items())])
        return 0
    for name, plan in sorted(declared.items()):
        limits = [
            f"{plan.max_users} users" if plan.max_users else "any users",
            f"{plan.max_storage_mb} MB" if plan.max_storage_mb else "any storage",
        ]
        if plan.suspend_over_storage:
            limits.append("suspended over storage")
        if plan.trial_days:
            limits.append(f"{plan.trial_days}-day trial")
        modules = ",".join(plan.modules) or "-"
        print(f"{name}: {', '.join(limits)}; modules {modules}")
    return 0
