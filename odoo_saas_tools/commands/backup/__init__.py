"""`odoo-saas backup ...`: scheduled backups of every tenant, retention, off-site copies."""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import register_group


def register(subparsers: argparse._SubParsersAction) -> None:
    register_group(
        subparsers,
        "backup",
        "back up every tenant, schedule, prune, list and verify backups",
        __name__,
        __doc__,
    )
