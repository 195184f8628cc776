"""`odoo-saas db list`: every tenant with its database size, filestore size, Odoo version, state.

Lists the databases our role owns that Odoo could serve (not templates, not odoo-saas's own
cache). State: `ready`, `neutralized` (a staging copy), `pending` (module operations left
unfinished: to install/upgrade/remove), `other-version` (not Odoo 19.0), `not-odoo`. What a
killed restore, verify or drop left behind is listed flagged `orphaned-<kind>` (put it right with
`odoo-saas db sweep`), or `in-progress-<kind>` while its operation runs.
`--all` adds the cached templates. A tenant nobody wrote to since the last listing is not asked
again (its facts are kept in ODOO_DATA_DIR/.odoo-saas until PostgreSQL's write counters are
lost: a crash, a failover; a state may lag a write by ~10 s, while PostgreSQL publishes its
counters; a database size older than 10 minutes is read again, 50 per listing); `--fresh` asks
every tenant.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.core.output import human_size, print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants import template_cache
from odoo_saas_tools.tenants.listing import tenants


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers, "list", "list tenants with sizes, Odoo version and state", __doc__, func=run
    )
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--all", action="store_true", help="include the template cache")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="ask every tenant (by default one nobody wrote to since the last list is not "
        "asked again; its state may lag a write by ~10 s)",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    rows = tenants(settings, fresh=args.fresh)
    cached = template_cache.templates(settings) if args.all else []
    if args.json:
        data: object = [asdict(r) for r in rows]
        if args.all:
            data = {
                "tenants": data,
                "templates": [{"name": t.name, **t.meta} for t in cached],
            }
        print_json(data)
        return 0
    if not rows:
        print("no tenants")
    else:
        width = max(len(r.name) for r in rows)
        print(f"{'NAME':<{width}}  {'DATABASE':>10}  {'FILESTORE':>10}  {'VERSION':<12}  STATE")
        for r in rows:
            print(
                f"{r.name:<{width}}  {human_size(r.db_size_bytes):>10}  "
                f"{human_size(r.filestore_bytes):>10}  {r.odoo_version or '-':<12}  {r.state}"
            )
    for t in cached:
        modules = ",".join(t.meta.get("modules", []))
        print(f"template {t.name}: {modules} {t.meta.get('lang', '')} created {t.created}")
    return 0
