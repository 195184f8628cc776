"""`odoo-saas api token ...`: the control API's tokens (create, list, revoke)."""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import register_group


def register(subparsers: argparse._SubParsersAction) -> None:
    register_group(subparsers, "token", "create, list and revoke API tokens", __name__, __doc__)
