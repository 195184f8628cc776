"""Build a benchmark tenant: a real Odoo 19 database (base) plus a large filestore.

The attachments are random bytes (incompressible, like the photos and PDFs of a real tenant),
written where Odoo puts them (<data_dir>/filestore/<db>/<sha[:2]>/<sha1>) and registered in
ir_attachment with the right store_fname, checksum and size, so Odoo serves them and every
backup tool has to carry them. The database is padded with ir_logging rows to a realistic size.

Settings come from the environment like every odoo-saas command (ODOO_DB_*, ODOO_DATA_DIR,
ODOO_BIN ...). Example:

    python bench/make_tenant.py bench_tenant --files 1500 --filestore-mb 550 --db-mb 90
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import time

from common import drop

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo import runner as odoo_runner
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.runtime import privileges

MIMETYPES = ("image/jpeg", "image/png", "application/pdf", "application/zip")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("name", help="database to create")
    p.add_argument("--files", type=int, default=1500, help="attachments (default 1500)")
    p.add_argument("--filestore-mb", type=int, default=550, help="filestore size (default 550)")
    p.add_argument("--db-mb", type=int, default=90, help="approximate database size (default 90)")
    p.add_argument("--seed", type=int, default=19, help="random seed for the file sizes")
    p.add_argument("--force", action="store_true", help="drop an existing database of that name")
    return p.parse_args(argv)


def file_sizes(count: int, total: int, seed: int) -> list[int]:
    """Log-normal sizes (many small files, a few big ones) scaled to the requested total."""
    rng = random.Random(seed)  # noqa: S311 - sizes, not secrets
    raw = [rng.lognormvariate(0, 1.2) for _ in range(count)]
    scale = total / sum(raw)
    return [max(64, int(r * scale)) for r in raw]


def add_attachments(settings: Settings, name: str, sizes: list[int]) -> int:
    root = settings.filestore(name)
    rows = []
    total = 0
    for i, size in enumerate(sizes):
        data = os.urandom(size)
        sha = hashlib.sha1(data, usedforsecurity=False).hexdigest()
        fname = f"{sha[:2]}/{sha}"
        path = root / fname
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        total += size
        rows.append((f"bench_{i:05d}.bin", fname, sha, size, MIMETYPES[i % len(MIMETYPES)]))
    with connect(settings, name) as conn, conn.cursor() as cr:
        cr.executemany(
            """
            INSERT INTO ir_attachment (name, type, store_fname, checksum, file_size, mimetype,
                                       res_model, res_id, public, create_uid, write_uid,
                                       create_date, write_date)
            VALUES (%s, 'binary', %s, %s, %s, %s, 'res.partner', 1, false, 1, 1,
                    now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
            """,
            rows,
        )
    return total


def pad_database(settings: Settings, name: str, megabytes: int) -> None:
    """ir_logging rows (about 1 kB each) until the database has roughly the requested size."""
    with connect(settings, name) as conn, conn.cursor() as cr:
        cr.execute("SELECT pg_database_size(current_database())")
        current = cr.fetchone()[0]
        rows = max(0, (megabytes * 1024 * 1024 - current) // 1100)
        if rows:
            cr.execute(
                """
                INSERT INTO ir_logging (create_uid, create_date, name, type, dbname, level,
                                        message, path, func, line)
                SELECT 1, now() AT TIME ZONE 'UTC', 'bench', 'server', current_database(),
                       'INFO', md5(i::text) || repeat(md5((i * 7)::text), 30), 'bench.py',
                       'pad', i::text
                  FROM generate_series(1, %s) i
                """,
                (rows,),
            )
        cr.execute("VACUUM ANALYZE ir_logging")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.from_env()
    if databases.exists(settings, args.name):
        if not args.force:
            print(f"{args.name} exists (use --force to rebuild it)", file=sys.stderr)
            return 3
        drop(settings, args.name)
    started = time.monotonic()
    odoo_runner.server_job(settings, args.name, ["-i", "base"])
    print(f"odoo -i base: {time.monotonic() - started:.1f} s", file=sys.stderr)
    started = time.monotonic()
    total = add_attachments(
        settings, args.name, file_sizes(args.files, args.filestore_mb * 1024 * 1024, args.seed)
    )
    pad_database(settings, args.name, args.db_mb)
    # Odoo, running as the runtime user, owns the files it writes: a bench run as root must not
    # leave them root's (a restore then would not trust them for hard links, as in production
    # it does, and every restore would measure the disaster case)
    privileges.give_to_runtime_user(settings.runtime_user, [settings.filestore(args.name)])
    with connect(settings, args.name) as conn, conn.cursor() as cr:
        cr.execute("SELECT pg_database_size(current_database())")
        db_size = cr.fetchone()[0]
    print(
        f"{args.name}: {args.files} attachments, {total / 2**20:.0f} MiB filestore, "
        f"{db_size / 2**20:.0f} MiB database ({time.monotonic() - started:.1f} s)",
        file=sys.stderr,
    )
    print(args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
