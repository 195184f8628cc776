"""`odoo-saas metrics serve`: the exporter (supervisord program `metrics`, `odoo-metrics.py`).

Listens on ODOO_METRICS_BIND:ODOO_METRICS_PORT and answers /metrics from figures measured in the
background (sizes every ODOO_METRICS_REFRESH_SECONDS), so a scrape is fast whatever the number of
tenants. Basic auth when ODOO_METRICS_USER / ODOO_METRICS_PASSWORD are set.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.observability.metrics.server import serve


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the Prometheus exporter (long-running)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--bind", help="address to listen on (default: ODOO_METRICS_BIND)")
    p.add_argument("--port", type=int, help="port to listen on (default: ODOO_METRICS_PORT)")
    p.set_defaults(func=run, log_as="metrics")


def run(args: argparse.Namespace, settings: Settings) -> int:
    bind = args.bind if args.bind is not None else settings.metrics_bind
    port = args.port if args.port is not None else settings.metrics_port
    serve(settings, bind, port)
    return 0
