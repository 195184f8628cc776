"""`odoo-saas api token list`: every token's name, scope and dates (never the token)."""

from __future__ import annotations

import argparse
from typing import Any

from odoo_saas_tools.control import tokens
from odoo_saas_tools.core.output import print_listing
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("list", help="list the tokens", description=__doc__)
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    rows = [
        {
            "name": t.name,
            "scope": t.scope,
            "created_at": t.created_at,
            "expires_at": t.expires_at,
            "revoked_at": t.revoked_at,
            "last_used_at": t.last_used_at,
        }
        for t in tokens.list_tokens(settings)
    ]
    return print_listing(rows, args.json, empty="no tokens", line=_line)


def _line(r: dict[str, Any]) -> str:
    state = "revoked" if r["revoked_at"] else "live"
    expires = f"{r['expires_at']:%Y-%m-%d}" if r["expires_at"] else "never"
    used = f"{r['last_used_at']:%Y-%m-%d %H:%M}" if r["last_used_at"] else "never"
    return f"{r['name']:<24} {r['scope']:<6} {state:<8} expires {expires:<10} used {used}"
