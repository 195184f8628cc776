"""`odoo-saas preflight [--fix] [--json]`: the start-up checks, on demand.

Prints one table of findings (ok / warning / error) and a summary. Read-only unless --fix:
then it also does what a start does (install missing Python packages when
ODOO_AUTO_PATCH_DEPS=true, upgrade changed modules when ODOO_AUTO_UPDATE=true).
Exit codes: 0 no error, 1 errors, 2 configuration errors.
"""

from __future__ import annotations

import argparse
import sys

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.preflight import run_checks
from odoo_saas_tools.preflight.findings import ERROR, Report


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "preflight",
        "check settings, PostgreSQL, directories, addons, Python deps and tenants",
        __doc__,
        func=run,
        needs_settings=False,
    )
    p.add_argument(
        "--fix",
        action="store_true",
        help="also install missing dependencies / upgrade changed modules, as a start does",
    )
    p.add_argument("--json", action="store_true", help="print the findings as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:  # bad variables are findings too, so --json stays parseable
        report = Report()
        for line in str(exc).splitlines():
            report.add("settings", line.split("=")[0].split()[0], ERROR, line)
    else:
        report = run_checks(settings, fix=args.fix)
    if args.json:
        print_json(report.as_dict())
    else:
        report.print_table(sys.stdout)
    return report.exit_code
