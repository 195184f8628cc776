"""`odoo-saas metrics show`: measure once and print what the exporter would serve.

For a quick look from `docker exec`, or a cron job pushing to a textfile collector.
"""

from __future__ import annotations

import argparse
import sys
import time

from prometheus_client import generate_latest

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.observability.metrics.collector import make_registry
from odoo_saas_tools.observability.metrics.refresher import Refresher

CPU_WINDOW = 1.0


def register(subparsers: argparse._SubParsersAction) -> None:
    add_command(
        subparsers,
        "show",
        "measure once and print the metrics (Prometheus text format)",
        __doc__,
        func=run,
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    refresher = Refresher(settings)
    refresher.refresh_slow()
    refresher.refresh_fast()
    time.sleep(CPU_WINDOW)  # CPU use is measured between two samples of the same processes
    refresher.refresh_fast()
    sys.stdout.write(generate_latest(make_registry(refresher)).decode())
    return 0
