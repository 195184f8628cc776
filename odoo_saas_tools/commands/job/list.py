"""`odoo-saas job list [--tenant NAME] [--state STATE]`: the API's jobs, newest first."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from odoo_saas_tools.catalog.jobs import STATES, Job
from odoo_saas_tools.control import jobs, tenant_view
from odoo_saas_tools.core.output import print_listing
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("list", help="list jobs, newest first", description=__doc__)
    p.add_argument("--tenant", metavar="NAME", help="only this tenant's (its API name)")
    p.add_argument("--state", choices=STATES)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    db = tenant_view.database(settings, args.tenant) if args.tenant else None
    found = jobs.search(settings, tenant=db, state=args.state, limit=max(1, args.limit))
    data = [_public(asdict(j)) for j in found] if args.json else None
    return print_listing(found, args.json, empty="no jobs", line=_line, data=data)


def _line(j: Job) -> str:
    end = f"  {j.error}" if j.error else ""
    return (
        f"{j.id}  {j.created_at:%Y-%m-%d %H:%M:%S}  {j.kind:<8} {j.tenant or '-':<24} "
        f"{j.state}{end}"
    )


def _public(job: dict) -> dict:
    """Never a generated password: that is for the API caller who asked, once."""
    if job.get("result"):
        job["result"] = {k: v for k, v in job["result"].items() if k != "admin_password"}
    return job
