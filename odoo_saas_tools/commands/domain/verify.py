"""`odoo-saas domain verify TENANT DOMAIN`: look the proof up in DNS now; once found, DOMAIN
serves TENANT (Odoo's routing and the certificate's ask follow within a second). Exit 1 while
DNS does not hold the record yet (the line says what it holds)."""

from __future__ import annotations

import argparse

from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.domains import manage


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("verify", help="check a domain's DNS proof", description=__doc__)
    p.add_argument("tenant", metavar="TENANT", help="the tenant's database")
    p.add_argument("domain", metavar="DOMAIN")
    p.add_argument("--json", action="store_true", help="print the domain as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    claim = manage.verify(settings, args.tenant, args.domain)
    if args.json:
        print_json(claim.as_dict())
        return 0
    how = f" ({claim.proof})" if claim.proof else " (already)"
    print(f"{claim.row.domain} verified{how}: it serves {claim.row.tenant}")
    if claim.ingress:
        print(claim.ingress)
    return 0
