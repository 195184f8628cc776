"""Clone speed: `odoo-saas db clone` against `odoo db duplicate` on the same tenant.

Rows: Odoo's duplicate (plain and neutralized with -n), our clone (neutralized, the default)
with nobody connected, and our online clone while a session is connected to the source (the
fallback that keeps its users working). Runs alternate; medians and ratios to Odoo's plain
duplicate are printed (target <= 0.25). Use a tenant from make_tenant.py (large filestore).

    python bench/bench_clone.py bench_tenant --rounds 3
"""

from __future__ import annotations

import argparse
import sys
import uuid

from common import drop, odoo_db, odoo_saas, report, timed

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import connect


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("name", help="tenant database to clone (made by make_tenant.py)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--no-online", action="store_true", help="skip the online-copy row")
    args = p.parse_args(argv)
    settings = Settings.from_env()
    tag = uuid.uuid4().hex[:6]
    rows: dict[str, list[float]] = {
        "odoo db duplicate": [],
        "odoo db duplicate -n": [],
        "odoo-saas db clone (neutralized)": [],
    }
    if not args.no_online:
        rows["odoo-saas db clone, source in use (online)"] = []
    odoo_saas("db", "list")  # caches Odoo's addons path outside the timing, as in production
    for i in range(args.rounds):
        for label, run in (
            ("odoo db duplicate", lambda d: odoo_db(settings, "duplicate", args.name, d)),
            ("odoo db duplicate -n", lambda d: odoo_db(settings, "duplicate", "-n", args.name, d)),
            ("odoo-saas db clone (neutralized)", lambda d: odoo_saas("db", "clone", args.name, d)),
        ):
            dst = f"bench_clone_{tag}_{i}_{len(rows[label])}_{label.split()[0][:4]}"
            try:
                rows[label].append(timed(lambda run=run, dst=dst: run(dst)))
            finally:
                drop(settings, dst)
        if not args.no_online:
            dst = f"bench_clone_{tag}_{i}_online"
            try:
                with connect(settings, args.name) as conn, conn.cursor() as cr:
                    cr.execute("SELECT 1")  # a user's session stays connected
                    label = "odoo-saas db clone, source in use (online)"
                    rows[label].append(timed(lambda d=dst: odoo_saas("db", "clone", args.name, d)))
            finally:
                drop(settings, dst)
    report(f"clone of {args.name}", list(rows.items()), "odoo db duplicate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
