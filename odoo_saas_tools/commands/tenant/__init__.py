"""`odoo-saas tenant ...`: tenant life cycle beyond raw databases (provisioning)."""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import register_group


def register(subparsers: argparse._SubParsersAction) -> None:
    register_group(subparsers, "tenant", "provision tenants, keep spares", __name__, __doc__)
