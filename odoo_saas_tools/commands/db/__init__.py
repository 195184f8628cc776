"""`odoo-saas db ...`: tenant databases (create, backup, restore, clone, drop, list, sweep ...)."""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import register_group


def register(subparsers: argparse._SubParsersAction) -> None:
    register_group(
        subparsers,
        "db",
        "tenant databases: create, backup, restore, clone, drop, list, rename, sweep",
        __name__,
        __doc__,
    )
