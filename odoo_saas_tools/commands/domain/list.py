"""`odoo-saas domain list [TENANT]`: every custom domain (of TENANT), verified or not."""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands.domain._show import row
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.domains import manage


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("list", help="list custom domains", description=__doc__)
    p.add_argument("tenant", metavar="TENANT", nargs="?", help="only this tenant's")
    p.add_argument("--json", action="store_true", help="print them as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    claims = [c.as_dict() for c in manage.listing(settings, args.tenant)]
    if args.json:
        print_json(claims)
    else:
        for claim in claims:
            print(row(claim))
    return 0
