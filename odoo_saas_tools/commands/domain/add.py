"""`odoo-saas domain add TENANT DOMAIN`: claim DOMAIN for TENANT and print the DNS record that
proves it (a TXT record holding the claim's token, or a CNAME to ODOO_SAAS_POOL_HOST). The
domain serves nothing until `domain verify` finds the record. Adding it again prints the same
record."""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands.domain._show import instructions
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.domains import manage


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "add", help="claim a domain; prints the DNS record to create", description=__doc__
    )
    p.add_argument("tenant", metavar="TENANT", help="the tenant's database")
    p.add_argument("domain", metavar="DOMAIN", help="e.g. erp.acme.com")
    p.add_argument("--json", action="store_true", help="print the claim and the record as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    claim = manage.add(settings, args.tenant, args.domain).as_dict()
    if args.json:
        print_json(claim)
    else:
        print(instructions(claim))
    return 0
