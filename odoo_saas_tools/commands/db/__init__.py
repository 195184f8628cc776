"""`odoo-saas db ...`: tenant databases (create, backup, restore, clone, drop, list, rename)."""

from __future__ import annotations

import argparse

from odoo_saas_tools.cli import register_all


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "db",
        help="tenant databases: create, backup, restore, clone, drop, list, rename",
        description=__doc__,
    )
    sub = p.add_subparsers(dest="db_command", metavar="ACTION")
    sub.required = True
    register_all(sub, __name__)
