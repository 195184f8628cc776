"""`odoo-saas metrics serve`: the exporter (supervisord program `metrics`, `odoo-metrics.py`).

Listens on ODOO_METRICS_BIND:ODOO_METRICS_PORT and answers /metrics from figures measured in the
background (sizes every ODOO_METRICS_REFRESH_SECONDS), so a scrape is fast whatever the number of
tenants. Basic auth when ODOO_METRICS_USER / ODOO_METRICS_PASSWORD are set.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.observability.metrics.collector import make_registry
from odoo_saas_tools.observability.metrics.refresher import Refresher
from odoo_saas_tools.observability.metrics.server import MetricsServer

log = logging.getLogger(__name__)


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
    refresher = Refresher(settings)
    try:
        server = MetricsServer(
            (bind, port),
            make_registry(refresher),
            user=settings.metrics_user,
            password=settings.metrics_password,
        )
    except OSError as exc:
        raise SaasError(f"cannot listen on {bind}:{port}: {exc.strerror or exc}") from exc

    def stop(signum: int, _frame: object) -> None:
        log.info("stopping on signal %d", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    refresher.start()
    log.info(
        "serving metrics on %s:%d%s (refresh every %d s)",
        bind,
        server.server_address[1],
        " with basic auth" if settings.metrics_user else "",
        settings.metrics_refresh_seconds,
    )
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        refresher.stop()
        server.server_close()
    return 0
