"""What the domain commands print for people."""

from __future__ import annotations

from typing import Any


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
