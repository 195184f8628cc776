"""`odoo-saas tenant resume NAME`: serve a suspended tenant again, as it was.

Within 2 s Odoo serves it again and runs its scheduled actions; its users' sessions from before
the suspension still work. The event `tenant.resumed` is recorded.
Exit codes: 0 resumed, 2 bad name or reason, 3 it was not suspended or no such tenant.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.control import suspension
from odoo_saas_tools.core.output import print_change
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants.provision import tenant_database


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "resume", "serve a suspended tenant again", __doc__, func=run)
    p.add_argument("name", metavar="NAME", help="tenant name (as given to tenant provision)")
    p.add_argument("--reason", default="", help="why (sent with the event)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    db = tenant_database(settings, args.name)
    return print_result(suspension.resume(settings, db, args.reason), args.json)


def print_result(result: dict, as_json: bool) -> int:
    """Shared with `tenant suspend`; exit 3 when the tenant already was in that state."""
    tenant, state = result["tenant"], result["state"]
    unchanged = f"tenant {tenant} is already {state}: nothing changed"
    done = f"tenant {tenant} ({result['database']}) is now {state}"
    return print_change(
        result, as_json, unchanged=None if result["changed"] else unchanged, done=done
    )
