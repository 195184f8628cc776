"""`odoo-saas tenant ...`: tenant life cycle beyond raw databases (provisioning)."""

from __future__ import annotations

import argparse

from odoo_saas_tools.cli import register_all


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("tenant", help="provision tenants", description=__doc__)
    sub = p.add_subparsers(dest="tenant_command", metavar="ACTION")
    sub.required = True
    register_all(sub, __name__)
