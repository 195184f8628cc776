"""`odoo-saas db clone SRC DST`: a staging copy of a tenant that cannot reach the real world.

The copy is neutralized by default (outgoing mail servers replaced by a dead one, crons off
except the autovacuum, webhooks, payment providers, IAP ... disabled: every installed module's
data/neutralize.sql, as `odoo neutralize` does, but without starting Odoo); `--no-neutralize`
keeps it as is. It always gets a new identity: uuid, secret (sessions of SRC do not work on
DST), and it drops the enterprise code, expiration and subscription links of SRC.

SRC's users stay connected: the fast copy (CREATE DATABASE ... TEMPLATE) needs SRC to itself,
so when Odoo serves SRC its idle pooled connections are released and new requests wait inside
PostgreSQL for the copy (at most 1.5 s; Odoo reconnects by itself). When that cannot be done
(another program connected, a transaction that stays open, SRC too big) the clone is made
online with pg_dump | psql (slower, SRC keeps working). `--force-disconnect` disconnects
everyone instead, as Odoo's duplicate does.
The filestore is hard-linked (same filesystem) or copied.

Exit codes: 0 cloned, 1 failed (DST not left behind), 2 bad name, 3 DST exists, 4 busy.
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.tenants.clone import clone_tenant
from odoo_saas_tools.tenants.names import check_name


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "clone",
        "copy a tenant for staging (neutralized, new identity, hard-linked filestore)",
        __doc__,
        func=run,
    )
    p.add_argument("src", metavar="SRC", help="tenant to copy")
    p.add_argument("dst", metavar="DST", help="new database name")
    p.add_argument(
        "--no-neutralize",
        dest="neutralize",
        action="store_false",
        help="keep mail servers, crons, payment providers ... active (a second production!)",
    )
    p.add_argument(
        "--force-disconnect",
        action="store_true",
        help="disconnect SRC's users for the fast copy instead of copying online",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    src = check_name(args.src, settings, what="source database")
    dst = check_name(args.dst, settings, what="target database")
    result = clone_tenant(
        settings, src, dst, neutralized=args.neutralize, force_disconnect=args.force_disconnect
    )
    if args.json:
        print_json(result)
    else:
        state = "neutralized" if result["neutralized"] else "NOT neutralized"
        print(
            f"cloned {src} to {dst} in {result['seconds']:.1f} s ({result['method']} copy, "
            f"filestore {result['filestore']}, {state})"
        )
    return 0
