"""`odoo-saas tenant spares`: the spare tenants kept ready for instant signups.

With PROVISION_SPARES=N, N copies of the default template (base plus PROVISION_MODULES, en_US)
wait as hidden databases, each with its filestore and a generated admin password already
hashed; while PROVISION_SPARES > 0, `tenant provision` and `db create` of that module set
rename one instead of copying the template (a spare is never handed out twice, nor one of an
older code version).

Without options it lists the ready spares; --fill makes the missing ones once (a Kubernetes
CronJob, or after an upgrade); --watch keeps them filled for good (the `spares` program that
supervisord runs when PROVISION_SPARES > 0).
Exit codes: 0 done, 1 failed, 2 bad option, 4 another filler is at work.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants import spares
from odoo_saas_tools.tenants.create import spare_spec


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "spares",
        "list, make or keep making the spare tenants of instant signups",
        __doc__,
        func=run,
        log_as=lambda args: "spares" if args.watch else None,
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument("--fill", action="store_true", help="make the missing spares, then exit")
    what.add_argument("--watch", action="store_true", help="keep the spares made (runs for good)")
    p.add_argument(
        "--count", type=int, help="spares wanted (default PROVISION_SPARES)", metavar="N"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    count = settings.provision_spares if args.count is None else args.count
    if count < 0:
        raise ConfigError(f"--count {count}: must be 0 or more")
    spec = spare_spec(settings)
    if args.watch:
        if count == 0:
            raise ConfigError("PROVISION_SPARES is 0: no spares to keep (or give --count)")
        spares.watch(settings, spec, count)
        return 0
    if args.fill:
        result = spares.fill(settings, spec, count)
    else:
        result = {"wanted": count, "ready": spares.ready(settings)}
    if args.json:
        print_json(result)
    elif args.fill:
        print(
            f"{result['ready']} of {count} spares ready ({len(result['made'])} made, "
            f"{len(result['dropped'])} dropped) for template {result['template']}"
        )
    else:
        print(f"{len(result['ready'])} spares ready (PROVISION_SPARES wants {count})")
        for name in result["ready"]:
            print(f"  {name}")
    return 0
