"""`odoo-saas supervise`: supervisord in this process, exiting non-zero after a FATAL odoo.

supervisord itself always exits 0; an orchestrator only restarts a container that fails, so
the watchdog leaves a marker and this wrapper turns it into exit status 1.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.container.supervise import supervise
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "supervise", help="run supervisord with the rendered configuration", description=__doc__
    )
    p.set_defaults(func=run, log_as="supervisord")


def run(args: argparse.Namespace, settings: Settings) -> int:
    return supervise(settings)
