"""`odoo-saas domain primary TENANT DOMAIN`: TENANT's links (web.base.url: invoices, e-mails,
the portal) say https://DOMAIN from now on, whoever logs in where (the URL is frozen). DOMAIN
must be verified."""

from __future__ import annotations

import argparse

from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.domains import manage


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("primary", help="make a domain the tenant's URL", description=__doc__)
    p.add_argument("tenant", metavar="TENANT", help="the tenant's database")
    p.add_argument("domain", metavar="DOMAIN")
    p.add_argument("--json", action="store_true", help="print the domain as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    claim = manage.primary(settings, args.tenant, args.domain)
    if args.json:
        print_json(claim.as_dict())
    else:
        print(f"{claim.row.tenant}'s URL is https://{claim.row.domain}")
    return 0
