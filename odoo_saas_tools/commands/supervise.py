"""`odoo-saas supervise`: supervisord in this process, exiting non-zero after a FATAL odoo.

supervisord itself always exits 0; an orchestrator only restarts a container that fails, so
the watchdog leaves a marker and this wrapper turns it into exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys

from odoo_saas_tools.settings import Settings

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "supervise", help="run supervisord with the rendered configuration", description=__doc__
    )
    p.set_defaults(func=run, program_name="supervisord")


def run(args: argparse.Namespace, s: Settings) -> int:
    from supervisor import supervisord

    marker = s.runtime_dir / "fatal"
    with contextlib.suppress(FileNotFoundError):
        marker.unlink()
    supervisord.main(["-c", str(s.supervisord_conf)])
    if marker.exists():
        program = marker.read_text().strip() or "odoo"
        print(
            f"odoo-saas: error: {program} could not be kept running (FATAL); exiting 1",
            file=sys.stderr,
        )
        return 1
    return 0
