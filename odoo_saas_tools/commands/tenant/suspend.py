"""`odoo-saas tenant suspend NAME --reason TEXT`: stop serving a tenant, keeping everything.

Within 2 s its users get the hoster's "suspended" page (HTTP 503, ODOO_SAAS_SUSPENDED_MESSAGE)
from every Odoo process, and its scheduled actions stop running. Its database, files and
sessions are untouched and backups go on; `tenant resume NAME` serves it again as it was. The
reason is kept in the catalog and sent with the event `tenant.suspended`.
Exit codes: 0 suspended, 2 bad name or reason, 3 already suspended or no such tenant.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.commands.tenant.resume import print_result
from odoo_saas_tools.control import suspension
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants.provision import tenant_database


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "suspend",
        "serve a tenant's users a 503 'suspended' page and stop its crons",
        __doc__,
        func=run,
    )
    p.add_argument("name", metavar="NAME", help="tenant name (as given to tenant provision)")
    p.add_argument("--reason", required=True, help="why (kept, sent with the event)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    db = tenant_database(settings, args.name)
    return print_result(suspension.suspend(settings, db, args.reason), args.json)
