"""Restore speed: `odoo-saas db restore` against `odoo db load`, on the same backup files.

Makes Odoo's own zip (`odoo db dump`) and our zip and dump of the tenant once, then per round
restores: Odoo's zip with `odoo db load` (the baseline), the same file with ours, our zip, and
our dump (parallel pg_restore). Each restore goes to a fresh database that is dropped again.
Target: ours <= 0.5 of Odoo's.

    python bench/bench_restore.py bench_tenant --rounds 3
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from common import drop, odoo_db, odoo_saas, report, timed

from odoo_saas_tools.core.settings import Settings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("name", help="tenant database (made by make_tenant.py)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=0, help="pg_restore jobs for the dump (0: CPUs)")
    args = p.parse_args(argv)
    settings = Settings.from_env()
    work = Path(tempfile.mkdtemp(prefix="bench-restore-", dir=settings.backup_dir))
    target = f"{args.name}_bench_copy"
    try:
        odoo_zip = work / "odoo.zip"
        odoo_db(settings, "dump", args.name, odoo_zip)
        ours_zip = Path(odoo_saas("db", "backup", args.name, work).strip().splitlines()[-1])
        ours_dump = Path(
            odoo_saas("db", "backup", args.name, work, "-f", "dump").strip().splitlines()[-1]
        )
        jobs = ["-j", str(args.jobs)] if args.jobs else []
        runs = {
            "odoo db load (Odoo's zip)": lambda: odoo_db(settings, "load", target, odoo_zip),
            "odoo-saas restore (Odoo's zip)": lambda: odoo_saas("db", "restore", target, odoo_zip),
            "odoo-saas restore (our zip)": lambda: odoo_saas("db", "restore", target, ours_zip),
            "odoo-saas restore (our dump)": lambda: odoo_saas(
                "db", "restore", target, ours_dump, *jobs
            ),
        }
        rows: dict[str, list[float]] = {label: [] for label in runs}
        drop(settings, target)
        for _ in range(args.rounds):
            for label, run in runs.items():
                rows[label].append(timed(run))
                drop(settings, target)
    finally:
        drop(settings, target)
        shutil.rmtree(work, ignore_errors=True)
    report(f"restore of {args.name}", list(rows.items()), "odoo db load (Odoo's zip)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
