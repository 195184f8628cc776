"""`odoo-saas api serve`: the control API (supervisord program `api`; docs/api.md).

Listens on ODOO_SAAS_API_BIND:ODOO_SAAS_API_PORT (default 8089) and runs the jobs it accepts,
ODOO_SAAS_API_JOBS at once. Needs the management role (ODOO_SAAS_DB_PASSWORD). Jobs a killed
process left running are resumed or failed (their leftovers swept) when it starts again.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the control API (long-running)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--bind", help="address to listen on (default: ODOO_SAAS_API_BIND)")
    p.add_argument("--port", type=int, help="port to listen on (default: ODOO_SAAS_API_PORT)")
    p.set_defaults(func=run, log_as="api")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from odoo_saas_tools.api.server import serve

    bind = args.bind if args.bind is not None else settings.api_bind
    port = args.port if args.port is not None else settings.api_port
    serve(settings, bind, port)
    return 0
