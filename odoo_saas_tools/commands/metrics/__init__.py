"""`odoo-saas metrics ...`: the Prometheus exporter (serve) and a one-off reading (show)."""

from __future__ import annotations

import argparse

from odoo_saas_tools.cli import register_all


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "metrics",
        help="Prometheus exporter: per-tenant sizes, backups, Odoo's memory and CPU",
        description=__doc__,
    )
    sub = p.add_subparsers(dest="metrics_command", metavar="ACTION")
    sub.required = True
    register_all(sub, __name__)
