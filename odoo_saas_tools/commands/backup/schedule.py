"""`backup schedule`: the backup-scheduler program run by supervisord.

Runs `backup run` on BACKUP_SCHEDULE (cron, read in BACKUP_TZ); never two runs at once; a run
missed while the container was down is made up at start; SIGTERM stops a running backup cleanly.
"""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from odoo_saas_tools.backups.scheduler import Scheduler
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "schedule",
        help="run backups on BACKUP_SCHEDULE (the backup-scheduler program)",
        description=__doc__,
    )
    p.set_defaults(func=run, log_as="backup-scheduler")


def run(args: argparse.Namespace, settings: Settings) -> int:
    stop = threading.Event()

    def handler(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    Scheduler(settings, stop=stop).loop()
    return 0
