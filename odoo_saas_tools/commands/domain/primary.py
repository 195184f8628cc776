"""`odoo-saas domain primary TENANT DOMAIN`: TENANT's links (web.base.url: invoices, e-mails,
the portal) say https://DOMAIN from now on, whoever logs in where (the URL is frozen). DOMAIN
must be verified."""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands.domain._show import add_claim_arguments, print_claim
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.domains import manage


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("primary", help="make a domain the tenant's URL", description=__doc__)
    add_claim_arguments(p, "print the domain as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    claim = manage.primary(settings, args.tenant, args.domain)
    return print_claim(claim, args.json, f"{claim.row.tenant}'s URL is https://{claim.row.domain}")
