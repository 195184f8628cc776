"""Restore speed: `odoo-saas db restore` against `odoo db load`, on the same backup files.

Makes Odoo's own zip (`odoo db dump`) and our zip and dump of the tenant once, then per round
restores: Odoo's zip with `odoo db load` (the baseline), the same file with ours, our zip, and
our dump (parallel pg_restore); our zip and Odoo's once more with the tenant's filestore set
aside (a disaster recovery: no attachment file on disk to hard-link, every one is extracted).
Each restore goes to a fresh database of its own; they are dropped together after each round,
then the bench waits --settle seconds before the next round (see below). Each round starts one
command further on in that list (round 2 with ours of Odoo's zip ... and Odoo's load last), so
no command always runs first after the pause; six rounds give each every place once.
Target: ours <= 0.5 of Odoo's.

Why nothing is dropped between commands: on an ext4 volume without a journal (this project's
benchmark machines), creating a file skips every inode freed in the last 60 s, one by one; a
command that followed the drop of the previous one's ~2,000 PostgreSQL files and 1,500
attachment files paid for that, more so the more came before it (whichever side it was).

    python bench/bench_restore.py bench_tenant --rounds 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import drop, odoo_db, odoo_saas, report, timed

from odoo_saas_tools.core.settings import Settings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("name", help="tenant database (made by make_tenant.py)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=0, help="pg_restore jobs for the dump (0: CPUs)")
    p.add_argument(
        "--settle",
        type=float,
        default=61,
        help="seconds to wait after each round's drops (0: drop after every command, as before)",
    )
    args = p.parse_args(argv)
    settings = Settings.from_env()
    work = Path(tempfile.mkdtemp(prefix="bench-restore-", dir=settings.backup_dir))
    targets: list[str] = []

    def fresh() -> str:
        targets.append(f"{args.name}_bench_copy{len(targets)}")
        return targets[-1]

    try:
        odoo_zip = work / "odoo.zip"
        odoo_db(settings, "dump", args.name, odoo_zip, db=args.name)
        ours_zip = Path(odoo_saas("db", "backup", args.name, work).strip().splitlines()[-1])
        ours_dump = Path(
            odoo_saas("db", "backup", args.name, work, "-f", "dump").strip().splitlines()[-1]
        )
        jobs = ["-j", str(args.jobs)] if args.jobs else []
        runs: dict[str, Callable[[str], object]] = {
            "odoo db load (Odoo's zip)": lambda t: odoo_db(settings, "load", t, odoo_zip),
            "odoo-saas restore (Odoo's zip)": lambda t: odoo_saas("db", "restore", t, odoo_zip),
            "odoo-saas restore (our zip)": lambda t: odoo_saas("db", "restore", t, ours_zip),
            "odoo-saas restore (our dump)": lambda t: odoo_saas(
                "db", "restore", t, ours_dump, *jobs
            ),
            # A disaster recovery: the backup's origin has no filestore to link files from
            "odoo-saas restore (our zip, no files on disk)": lambda t: without_origin_files(
                settings.filestore(args.name),
                lambda: odoo_saas("db", "restore", t, ours_zip),
            ),
            "odoo-saas restore (Odoo's zip, no files on disk)": lambda t: without_origin_files(
                settings.filestore(args.name),
                lambda: odoo_saas("db", "restore", t, odoo_zip),
            ),
        }
        rows: dict[str, list[float]] = {label: [] for label in runs}
        if args.settle:  # after making the files above (and whatever ran before this bench)
            os.sync()
            time.sleep(args.settle)
        labels = list(runs)
        for i in range(args.rounds):
            # each round starts one command further on: none is always the first after the
            # settle, or always after the same others (the clone bench takes turns likewise)
            shift = i % len(labels)
            for label in labels[shift:] + labels[:shift]:
                run = runs[label]
                target = fresh()
                drop(settings, target)
                # each command starts with nothing of the previous one left to write back
                # (550 MiB of extracted files otherwise hit whichever command comes next)
                os.sync()
                rows[label].append(timed(lambda: run(target)))  # noqa: B023 (called at once)
                if not args.settle:
                    drop(settings, target)
            drop_all(settings, targets)
            if args.settle:
                os.sync()
                time.sleep(args.settle)
    finally:
        drop_all(settings, targets)
        shutil.rmtree(work, ignore_errors=True)
    report(f"restore of {args.name}", list(rows.items()), "odoo db load (Odoo's zip)")
    return 0


def drop_all(settings: Settings, names: list[str]) -> None:
    for name in names:
        drop(settings, name)
    names.clear()


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
