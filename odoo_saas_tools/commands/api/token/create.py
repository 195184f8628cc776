"""`odoo-saas api token create NAME --scope read|write|admin [--expires DAYS] [--json]`.

Prints the token once (it is stored hashed: nobody can show it again). Scopes: read (GET
calls), write (create, clone, back up, suspend, resume, change plan), admin (also restore and
delete). Names are never reused, revoked ones included.
Exit codes: 0 made, 2 bad name, scope or expiry, 3 the name is taken.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.control import tokens
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "create", "make a token and print it once", __doc__, func=run)
    p.add_argument("name", metavar="NAME", help="who uses it (portal, billing ...)")
    p.add_argument("--scope", choices=tokens.SCOPES, required=True)
    p.add_argument("--expires", type=int, metavar="DAYS", help="valid for DAYS days")
    p.add_argument("--json", action="store_true", help='print {"name", "token", "scope"}')


def run(args: argparse.Namespace, settings: Settings) -> int:
    token, row = tokens.create(settings, args.name, args.scope, args.expires)
    if args.json:
        print_json({"name": row.name, "token": token, "scope": row.scope})
    else:
        expiry = f", expires {row.expires_at:%Y-%m-%d %H:%M} UTC" if row.expires_at else ""
        print(f"token {row.name} ({row.scope}{expiry}), shown once: store it now")
        print(token)
    return 0
