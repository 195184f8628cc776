"""`odoo-saas watchdog`: supervisor event listener that ends supervisord when a program is FATAL."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from odoo_saas_tools.container.watchdog import listen


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "watchdog", help="(internal) supervisor event listener", description=__doc__
    )
    p.add_argument(
        "--program",
        action="append",
        required=True,
        help="program whose FATAL state stops supervisord (repeatable)",
    )
    p.add_argument(
        "--marker",
        type=Path,
        required=True,
        help="file written with the program's name before stopping supervisord",
    )
    p.set_defaults(func=run, needs_settings=False)


def run(args: argparse.Namespace) -> int:
    # supervisord stops its listeners with TERM at every `docker stop`: a normal end, exit 0
    # (not the CLI's "interrupted", 130, which supervisord logs as an unexpected WARN)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    return listen(args.program, args.marker)
