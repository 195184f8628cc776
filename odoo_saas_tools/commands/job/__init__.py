"""`odoo-saas job ...`: the control API's jobs (list, show)."""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import register_group


def register(subparsers: argparse._SubParsersAction) -> None:
    register_group(subparsers, "job", "the control API's jobs: list, show", __name__, __doc__)
