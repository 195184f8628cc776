"""`odoo-saas webhook list [--json]`: every subscription with its last deliveries (never a
secret)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from odoo_saas_tools.catalog.webhooks import Delivery, Webhook
from odoo_saas_tools.control import webhooks
from odoo_saas_tools.core.output import print_listing
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("list", help="list webhooks", description=__doc__)
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run)


def webhook_dict(hook: Webhook, last: list[Delivery]) -> dict[str, Any]:
    return {**asdict(hook), "deliveries": [asdict(d) for d in last]}


def run(args: argparse.Namespace, settings: Settings) -> int:
    found = webhooks.listing(settings)
    data = [webhook_dict(hook, last) for hook, last in found] if args.json else None
    return print_listing(found, args.json, empty="no webhooks", line=_line, data=data)


def _line(found: tuple[Webhook, list[Delivery]]) -> str:
    hook, last = found
    states = ", ".join(f"{d.event_type} {d.state}" for d in last[:3]) or "no deliveries"
    return f"{hook.id}  {hook.url}  {','.join(hook.events)}  ({states})"
