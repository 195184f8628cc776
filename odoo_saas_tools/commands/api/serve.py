"""`odoo-saas api serve`: the control API (supervisord program `api`; docs/api.md).

Listens on ODOO_SAAS_API_BIND:ODOO_SAAS_API_PORT (default 8089) and runs the jobs it accepts,
ODOO_SAAS_API_JOBS at once. Needs the management role (ODOO_SAAS_DB_PASSWORD). Jobs a killed
process left running are resumed or failed (their leftovers swept) when it starts again.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import add_command, add_listen_options, listen_address
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers, "serve", "run the control API (long-running)", __doc__, func=run, log_as="api"
    )
    add_listen_options(p, "ODOO_SAAS_API_BIND", "ODOO_SAAS_API_PORT")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from odoo_saas_tools.api.server import serve

    serve(settings, *listen_address(args, settings.api_bind, settings.api_port))
    return 0
