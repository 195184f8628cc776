"""`odoo-saas domain ...`: a tenant's own domains (erp.acme.com), proven through DNS, served
with a certificate that issues itself (docs/domains.md).

Exit codes: 0 done, 1 failed (DNS does not prove it yet, PostgreSQL), 2 bad input (the domain
is an IP, a wildcard, the pool's own, over 253 characters, has an invalid label, or is another
tenant's), 3 nothing to do, 4 busy."""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import register_group


def register(subparsers: argparse._SubParsersAction) -> None:
    register_group(
        subparsers,
        "domain",
        "custom domains of tenants: add, verify, list, remove, primary",
        __name__,
        __doc__,
    )
