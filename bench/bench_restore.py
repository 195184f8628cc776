"""Restore speed: `odoo-saas db restore` against `odoo db load`, on the same backup files.

Makes Odoo's own zip (`odoo db dump`) and our zip and dump of the tenant once, then per round
restores: Odoo's zip with `odoo db load` (the baseline), the same file with ours, our zip, and
our dump (parallel pg_restore); our zip and Odoo's once more with the tenant's filestore set
aside (a disaster recovery: no attachment file on disk to hard-link, every one is extracted).
Each restore goes to a fresh database that is dropped again.
Target: ours <= 0.5 of Odoo's.

    python bench/bench_restore.py bench_tenant --rounds 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
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
            # A disaster recovery: the backup's origin has no filestore to link files from
            "odoo-saas restore (our zip, no files on disk)": lambda: without_origin_files(
                settings.filestore(args.name),
                lambda: odoo_saas("db", "restore", target, ours_zip),
            ),
            "odoo-saas restore (Odoo's zip, no files on disk)": lambda: without_origin_files(
                settings.filestore(args.name),
                lambda: odoo_saas("db", "restore", target, odoo_zip),
            ),
        }
        rows: dict[str, list[float]] = {label: [] for label in runs}
        drop(settings, target)
        for _ in range(args.rounds):
            for label, run in runs.items():
                # each command starts with nothing of the previous one left to write back
                # (550 MiB of extracted files otherwise hit whichever command comes next)
                os.sync()
                rows[label].append(timed(run))
                drop(settings, target)
    finally:
        drop(settings, target)
        shutil.rmtree(work, ignore_errors=True)
    report(f"restore of {args.name}", list(rows.items()), "odoo db load (Odoo's zip)")
    return 0


def without_origin_files(filestore: Path, run: Callable[[], object]) -> None:
    """Run with the tenant's filestore set aside (put back whatever happens)."""
    aside = filestore.with_name(filestore.name + ".bench-aside")
    filestore.rename(aside)
    try:
        run()
    finally:
        aside.rename(filestore)


if __name__ == "__main__":
    sys.exit(main())
