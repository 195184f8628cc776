"""`odoo-saas render`: write odoo.conf and supervisord.conf without starting anything."""

from __future__ import annotations

import argparse

from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.runtime import render


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "render", help="render the configuration files only", description=__doc__
    )
    p.add_argument("--json", action="store_true", help="print what was written")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    plan = render.render_all(settings)
    if args.json:
        print_json(
            {
                "odoo_conf": str(settings.odoo_conf),
                "supervisord_conf": str(settings.supervisord_conf),
                "workers": plan.workers,
                "addons_path": plan.addons_path,
                "server_wide_modules": plan.server_wide_modules,
            }
        )
    else:
        print(settings.odoo_conf)
        print(settings.supervisord_conf)
    return 0
