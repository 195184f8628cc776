"""`odoo-saas tenant lifecycle --once`: end trials and judge storage, once (cron-able).

The api process runs the same turn in its background loop. A trial whose end has passed is
suspended (events trial.ended and tenant.suspended); storage over a plan's max_storage_mb is
told (quota.exceeded) and suspended if the plan says so; tenants without a catalog row get one
and the plans file's limits are applied. Without --once it runs a turn every --every seconds.
Exit codes: 0 done (a tenant's failure is reported, not fatal), 1 the turn failed, 2 bad plans
file.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.control import lifecycle
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "lifecycle",
        "suspend ended trials and judge storage against the plans",
        __doc__,
        func=run,
        log_as=lambda args: None if args.once else "lifecycle",
    )
    p.add_argument("--once", action="store_true", help="one turn, then exit")
    p.add_argument("--every", type=float, default=60.0, metavar="SECONDS", help="(default 60)")
    p.add_argument("--json", action="store_true", help="print the turn's result as JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.every < 1:
        raise ConfigError(f"--every {args.every:g}: at least 1 second")
    if args.once:
        show(lifecycle.tick(settings), args.json)
        return 0
    lifecycle.Loop(settings, args.every, report=lambda result: show(result, args.json)).run(
        first_now=True
    )
    return 0


def show(result: dict, as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    print(
        f"{result['tenants']} tenants: {len(result['trials_ended'])} trials ended, "
        f"{len(result['storage_exceeded'])} over storage, {len(result['suspended'])} suspended, "
        f"{len(result['failed'])} failed ({result['seconds']:.2f} s)"
    )
    for database, error in sorted(result["failed"].items()):
        print(f"  {database}: {error}")
