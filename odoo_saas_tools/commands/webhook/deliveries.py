"""`odoo-saas webhook deliveries ID [--limit N] [--json]`: a webhook's deliveries, newest
first. Exit codes: 0 shown, 3 no such webhook."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from odoo_saas_tools.catalog.webhooks import Delivery
from odoo_saas_tools.control import webhooks
from odoo_saas_tools.core.output import print_listing
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("deliveries", help="a webhook's deliveries", description=__doc__)
    p.add_argument("id", metavar="ID")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    found = webhooks.deliveries(settings, args.id, max(1, args.limit))
    data = [asdict(d) for d in found] if args.json else None
    return print_listing(found, args.json, empty="no deliveries", line=_line, data=data)


def _line(d: Delivery) -> str:
    end = f"  {d.last_error}" if d.last_error else ""
    return (
        f"{d.id}  {d.created_at:%Y-%m-%d %H:%M:%S}  {d.event_type:<18} {d.state:<9} "
        f"{d.attempts} attempt(s){end}"
    )
