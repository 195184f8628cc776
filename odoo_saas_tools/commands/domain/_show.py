"""What the domain commands print for people."""

from __future__ import annotations

import argparse
from typing import Any

from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.domains.manage import Claim


def add_claim_arguments(p: argparse.ArgumentParser, json_help: str) -> None:
    """TENANT DOMAIN [--json]: what verify, primary and remove take."""
    p.add_argument("tenant", metavar="TENANT", help="the tenant's database")
    p.add_argument("domain", metavar="DOMAIN")
    p.add_argument("--json", action="store_true", help=json_help)


def print_claim(claim: Claim, as_json: bool, line: str) -> int:
    """The claim as JSON, else line and what the Ingress sync said (when it ran). Returns 0."""
    if as_json:
        print_json(claim.as_dict())
        return 0
    print(line)
    if claim.ingress:
        print(claim.ingress)
    return 0


def instructions(claim: dict[str, Any]) -> str:
    rec = claim["record"]
    lines = [
        f"{claim['domain']} is claimed for {claim['tenant']}; to prove it is yours, create the "
        "DNS record",
        f'  {rec["name"]}.  TXT  "{rec["value"]}"',
    ]
    alt = claim.get("alternative")
    if alt:
        lines += ["or point the domain at the pool:", f"  {alt['name']}.  CNAME  {alt['value']}."]
    lines.append(f"then run: odoo-saas domain verify {claim['tenant']} {claim['domain']}")
    return "\n".join(lines)


def row(claim: dict[str, Any]) -> str:
    state = "verified" if claim["verified"] else "unverified"
    primary = "  primary" if claim["primary"] else ""
    return f"{claim['tenant']}  {claim['domain']}  {state}{primary}"
