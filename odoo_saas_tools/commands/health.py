"""`odoo-saas health`: is this container healthy? (health-check.sh, Docker HEALTHCHECK)

Checks that Odoo's master process runs, /web/health answers, Odoo reaches PostgreSQL, Odoo's
memory is below ODOO_MEMORY_WARN_PERCENT of the container's limit (above it: a warning, still
healthy) and, with ODOO_ENABLE_REDIS, that Redis answers. One line per check; the whole run ends
within --timeout seconds even when Odoo hangs. Per ODOO_SAAS_ROLE: `cron` has no HTTP to ask (it
asks PostgreSQL itself); `backup` and `metrics` run no Odoo: their program must be RUNNING under
supervisord and PostgreSQL must answer.

Exit codes: 0 healthy (warnings allowed), 1 unhealthy.
"""

from __future__ import annotations

import argparse
import sys

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.core.errors import EXIT_FAILURE, EXIT_OK, ConfigError
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.observability.health import DEFAULT_BUDGET, report, run_checks


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "health",
        "check Odoo, its database, memory and Redis (exit 0 healthy, 1 unhealthy)",
        __doc__,
        func=run,
    )
    p.add_argument("--json", action="store_true", help="one JSON document for machines")
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_BUDGET,
        metavar="SECONDS",
        help=f"time budget for all checks together (default {DEFAULT_BUDGET:g})",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.timeout <= 0:
        raise ConfigError(f"--timeout must be positive, not {args.timeout:g}")
    results = run_checks(settings, budget=args.timeout)
    summary = report(results)
    if args.json:
        print_json(summary)
    else:
        for r in results:
            print(f"{r.status:<4}  {r.name}: {r.message}")
        print("healthy" if summary["healthy"] else "UNHEALTHY")
    sys.stdout.flush()
    return EXIT_OK if summary["healthy"] else EXIT_FAILURE
