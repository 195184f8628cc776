"""`odoo-saas domain verify TENANT DOMAIN`: look the proof up in DNS now; once found, DOMAIN
serves TENANT (Odoo's routing and the certificate's ask follow within a second). Exit 1 while
DNS does not hold the record yet (the line says what it holds)."""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands.domain._show import add_claim_arguments, print_claim
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.domains import manage


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("verify", help="check a domain's DNS proof", description=__doc__)
    add_claim_arguments(p, "print the domain as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    claim = manage.verify(settings, args.tenant, args.domain)
    how = f" ({claim.proof})" if claim.proof else " (already)"
    return print_claim(
        claim, args.json, f"{claim.row.domain} verified{how}: it serves {claim.row.tenant}"
    )
