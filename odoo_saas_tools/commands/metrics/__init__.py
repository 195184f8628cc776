"""`odoo-saas metrics ...`: the Prometheus exporter (serve) and a one-off reading (show)."""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import register_group


def register(subparsers: argparse._SubParsersAction) -> None:
    register_group(
        subparsers,
        "metrics",
        "Prometheus exporter: per-tenant sizes, backups, Odoo's memory and CPU",
        __name__,
        __doc__,
    )
