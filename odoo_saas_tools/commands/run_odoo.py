"""`odoo-saas run-odoo`: the supervisord program that runs Odoo.

Odoo gets only the environment it needs (odoo.environment) and its configuration from the
rendered odoo.conf. Every line it prints is prefixed with `[odoo]` so the container log says which
program spoke; signals are passed on one-to-one, so TERM is graceful, HUP reloads and TTIN/TTOU
add or remove workers as with a bare Odoo.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.container.run_odoo import run_odoo
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "run-odoo",
        "(supervisord program) run Odoo with odoo.conf",
        __doc__,
        func=run,
        log_as="odoo",
    )
    p.add_argument("extra", nargs=argparse.REMAINDER, help="extra arguments for Odoo")


def run(args: argparse.Namespace, settings: Settings) -> int:
    return run_odoo(settings, args.extra)
