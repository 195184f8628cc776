"""Backup speed: `odoo-saas db backup` (zip, dump, sql.gz) against `odoo db dump` (zip).

Runs each command --rounds times on the same tenant (see make_tenant.py), alternating them so
machine noise hits both, and prints medians and ratios (target: zip <= 0.5 of Odoo's).

    python bench/bench_backup.py bench_tenant --rounds 3
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from common import odoo_db, odoo_saas, report, timed

from odoo_saas_tools.core.settings import Settings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("name", help="tenant database (made by make_tenant.py)")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    settings = Settings.from_env()
    work = Path(tempfile.mkdtemp(prefix="bench-backup-", dir=settings.backup_dir))
    rows: dict[str, list[float]] = {"odoo db dump (zip)": [], "odoo-saas zip": []}
    rows |= {"odoo-saas dump": [], "odoo-saas sql.gz": []}
    try:
        for _ in range(args.rounds):
            out = work / "odoo.zip"
            rows["odoo db dump (zip)"].append(
                timed(lambda out=out: odoo_db(settings, "dump", args.name, out, db=args.name))
            )
            out.unlink()
            for fmt in ("zip", "dump", "sql.gz"):
                rows[f"odoo-saas {fmt}"].append(
                    timed(lambda fmt=fmt: odoo_saas("db", "backup", args.name, work, "-f", fmt))
                )
                for path in work.iterdir():
                    path.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(f"backup of {args.name}", list(rows.items()), "odoo db dump (zip)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
