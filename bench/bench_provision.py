"""Provisioning speed: `odoo-saas tenant provision` (warm template cache) against `odoo db init`.

Both create a new database with base installed and an admin password set; ours copies the
cached template (built once before timing starts) and writes the admin, company and locale with
SQL. Runs alternate (--rounds each) so machine noise hits both; prints medians and ratios
(target: provisioning <= 0.2 of `odoo db init`). Settings come from the environment.

    python bench/bench_provision.py --rounds 3
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

from common import drop, odoo_db, odoo_saas, report, timed

from odoo_saas_tools.core.settings import Settings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    settings = Settings.from_env()
    tag = uuid.uuid4().hex[:6]
    prefix = settings.tenant_db_prefix
    with tempfile.NamedTemporaryFile("w", delete=False) as fh:
        fh.write("Bench-Password-2026\n")
        pw_file = Path(fh.name)
    made: list[str] = []
    rows: dict[str, list[float]] = {"odoo db init": [], "odoo-saas tenant provision": []}
    rows["odoo-saas db create"] = []
    try:
        warm = f"bench_warm_{tag}"
        made.append(prefix + warm)
        odoo_saas("tenant", "provision", warm, "--admin-password-file", pw_file)  # warms the cache
        for i in range(args.rounds):
            name = f"bench_init_{tag}_{i}"
            made.append(name)
            rows["odoo db init"].append(
                timed(lambda n=name: odoo_db(settings, "init", "--password", "x", n))
            )
            name = f"bench_prov_{tag}_{i}"
            made.append(prefix + name)
            rows["odoo-saas tenant provision"].append(
                timed(
                    lambda n=name: odoo_saas(
                        "tenant",
                        "provision",
                        n,
                        "--admin-password-file",
                        pw_file,
                        "--company-name",
                        "Bench Ltd",
                        "--country",
                        "BE",
                    )
                )
            )
            name = f"bench_create_{tag}_{i}"
            made.append(name)
            rows["odoo-saas db create"].append(
                timed(lambda n=name: odoo_saas("db", "create", n, "--admin-password-file", pw_file))
            )
    finally:
        for name in made:
            drop(settings, name)
        os.unlink(pw_file)
    report("new tenant with base (warm template cache)", list(rows.items()), "odoo db init")
    return 0


if __name__ == "__main__":
    sys.exit(main())
