"""`odoo-saas api ...`: the control API (serve), its tokens, its OpenAPI document."""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import register_group


def register(subparsers: argparse._SubParsersAction) -> None:
    register_group(
        subparsers,
        "api",
        "the control API: serve it, manage its tokens, print its OpenAPI document",
        __name__,
        __doc__,
    )
