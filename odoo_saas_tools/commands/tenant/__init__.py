"""`odoo-saas tenant ...`: tenant life cycle beyond raw databases (provisioning, spares,
suspension, plans)."""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import register_group


def register(subparsers: argparse._SubParsersAction) -> None:
    register_group(
        subparsers,
        "tenant",
        "provision tenants, keep spares, suspend, resume, change plan",
        __name__,
        __doc__,
    )
