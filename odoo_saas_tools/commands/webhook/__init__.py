"""`odoo-saas webhook ...`: the control API's webhooks (add, list, remove, deliveries)."""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import register_group


def register(subparsers: argparse._SubParsersAction) -> None:
    register_group(
        subparsers,
        "webhook",
        "subscribe URLs to events: add, list, remove, deliveries",
        __name__,
        __doc__,
    )
