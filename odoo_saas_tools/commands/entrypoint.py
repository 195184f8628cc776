"""`odoo-saas entrypoint [COMMAND...]`: validate, render the configuration, start the stack.

With no command it becomes supervisord (PID 1 in the container); with a command it renders the
configuration and runs that command instead (e.g. `odoo --version`, `bash`).
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.container.start import start
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "entrypoint",
        "container entrypoint: validate, render odoo.conf/supervisord.conf, start",
        __doc__,
        func=run,
        log_as="entrypoint",
    )
    p.add_argument(
        "cmd",
        nargs=argparse.REMAINDER,
        metavar="COMMAND",
        help="run this instead of supervisord (after rendering)",
    )
    p.add_argument(
        "--no-wait", action="store_true", help="do not wait for PostgreSQL before starting"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    start(settings, [c for c in args.cmd if c != "--"] if args.cmd else [], wait=not args.no_wait)
    return 0  # not reached: start() execs
