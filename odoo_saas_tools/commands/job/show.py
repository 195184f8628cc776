"""`odoo-saas job show ID`: one job of the control API (never its generated password).
Exit codes: 0 shown, 3 no such job."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from odoo_saas_tools.commands.job.list import _public
from odoo_saas_tools.control import jobs
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("show", help="show one job", description=__doc__)
    p.add_argument("id", metavar="ID")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    print_json(_public(asdict(jobs.get(settings, args.id))))
    return 0
