"""`odoo-saas backup ...`: scheduled backups of every tenant, retention, off-site copies."""

from __future__ import annotations

import argparse

from odoo_saas_tools.cli import register_all


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "backup",
        help="back up every tenant, schedule, prune, list and verify backups",
        description=__doc__,
    )
    sub = p.add_subparsers(dest="backup_command", metavar="ACTION")
    sub.required = True
    register_all(sub, __name__)
