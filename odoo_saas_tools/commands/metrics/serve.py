"""`odoo-saas metrics serve`: the exporter (supervisord program `metrics`, `odoo-metrics.py`).

Listens on ODOO_METRICS_BIND:ODOO_METRICS_PORT and answers /metrics from figures measured in the
background (sizes every ODOO_METRICS_REFRESH_SECONDS), so a scrape is fast whatever the number of
tenants. Basic auth when ODOO_METRICS_USER / ODOO_METRICS_PASSWORD are set.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import add_command, add_listen_options, listen_address
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.observability.metrics.server import serve


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "serve",
        "run the Prometheus exporter (long-running)",
        __doc__,
        func=run,
        log_as="metrics",
    )
    add_listen_options(p, "ODOO_METRICS_BIND", "ODOO_METRICS_PORT")


def run(args: argparse.Namespace, settings: Settings) -> int:
    serve(settings, *listen_address(args, settings.metrics_bind, settings.metrics_port))
    return 0
