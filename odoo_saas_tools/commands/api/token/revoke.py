"""`odoo-saas api token revoke NAME`: the token stops working at once.
Exit codes: 0 revoked, 3 no live token of that name."""

from __future__ import annotations

import argparse

from odoo_saas_tools.control import tokens
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("revoke", help="revoke a token", description=__doc__)
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    tokens.revoke(settings, args.name)
    print(f"revoked {args.name}")
    return 0
