"""`odoo-saas domain remove TENANT DOMAIN`: DOMAIN stops serving TENANT (within a second: its
requests get a 404, its certificate is never renewed). Removing the primary domain puts
web.base.url back on the pool's URL (TENANT_URL_TEMPLATE). Exit 3 when it was not there."""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands.domain._show import add_claim_arguments, print_claim
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.domains import manage


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("remove", help="remove a custom domain", description=__doc__)
    add_claim_arguments(p, "print the removed domain as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    claim = manage.remove(settings, args.tenant, args.domain)
    return print_claim(claim, args.json, f"removed {claim.row.domain} from {claim.row.tenant}")
