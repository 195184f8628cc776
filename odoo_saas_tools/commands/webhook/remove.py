"""`odoo-saas webhook remove ID`: unsubscribe; its pending deliveries are not sent.
Exit codes: 0 removed, 3 no such webhook."""

from __future__ import annotations

import argparse

from odoo_saas_tools.control import webhooks
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("remove", help="remove a webhook", description=__doc__)
    p.add_argument("id", metavar="ID")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    webhooks.remove(settings, args.id)
    print(f"removed webhook {args.id}")
    return 0
