"""The restic engine's goals (issue 14) on one tenant, against the bucket it really writes to.

Needs the odoo-saas environment with BACKUP_OFFSITE=restic, BACKUP_ENCRYPTION_PASSWORD, an
S3-compatible store (AWS_S3_BUCKET, AWS_S3_ENDPOINT_URL, keys) and a real Odoo 19 (ODOO_BIN,
for the `odoo db load` baseline). Every phase uses its own repository (a fresh
BACKUP_S3_PREFIX under the configured one), so figures never mix; they are deleted at the end.

    python bench/bench_restic.py bench_tenant [--days 28] [--rounds 3]

1. unchanged tenant: first and second `backup run` (bytes added, time);
2. a neutralized clone (`db clone`) backed up after its source: bytes added
   against its dump;
3. restore: `db restore X restic:TENANT` against `odoo db load X` of Odoo's zip;
4. a copy of the tenant changing 1 % of its padding rows and adding 1 % new attachments per
   day, --days snapshots (one per simulated day): bucket bytes against one full backup.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from common import drop, median, odoo_db, odoo_saas, report, timed

from odoo_saas_tools.backups.offsite import restic
from odoo_saas_tools.backups.offsite import s3_bucket as s3
from odoo_saas_tools.core.output import human_size
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import connect


def bucket_bytes(settings: Settings) -> int:
    """What the repository takes in the bucket (every object under its prefix)."""
    client = s3.client(settings)
    total = 0
    prefix = settings.backup_s3_prefix.strip("/") + "/"
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=settings.aws_s3_bucket, Prefix=prefix
    ):
        total += sum(o["Size"] for o in page.get("Contents", []))
    return total


def delete_prefix(settings: Settings) -> None:
    client = s3.client(settings)
    prefix = settings.backup_s3_prefix.strip("/") + "/"
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=settings.aws_s3_bucket, Prefix=prefix
    ):
        keys += [o["Key"] for o in page.get("Contents", [])]
    s3.delete(settings, keys, s3=client)


def fresh(settings: Settings, label: str) -> Settings:
    prefix = f"{settings.backup_s3_prefix.strip('/')}/bench-{label}-{uuid.uuid4().hex[:6]}"
    os.environ["BACKUP_S3_PREFIX"] = prefix  # for the odoo-saas processes
    return dataclasses.replace(settings, backup_s3_prefix=prefix)


def run_backup(name: str) -> tuple[float, dict]:
    started = time.perf_counter()
    out = json.loads(odoo_saas("backup", "run", name, "--json"))
    return time.perf_counter() - started, out["tenants"][0]


def dump_size(settings: Settings, name: str) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-dump-", dir=settings.backup_dir))
    try:
        odoo_saas("db", "backup", name, tmp, "-f", "sql.gz")  # only to size the plain dump
        import gzip

        path = next(tmp.glob("*.sql.gz"))
        with gzip.open(path) as fh:
            return sum(len(chunk) for chunk in iter(lambda: fh.read(1 << 20), b""))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def change_a_day(settings: Settings, name: str, rng: random.Random) -> None:
    """1 % of the padding rows rewritten, 1 % new attachments (sizes like the existing)."""
    with connect(settings, name) as conn, conn.cursor() as cr:
        cr.execute("SELECT count(*) FROM ir_logging")
        rows = cr.fetchone()[0]
        cr.execute(
            "UPDATE ir_logging SET message = md5(random()::text) || message "
            "WHERE id IN (SELECT id FROM ir_logging ORDER BY random() LIMIT %s)",
            (max(1, rows // 100),),
        )
        cr.execute("SELECT file_size FROM ir_attachment WHERE store_fname IS NOT NULL")
        sizes = [r[0] or 0 for r in cr.fetchall()]
        for size in rng.sample(sizes, max(1, len(sizes) // 100)):
            data = rng.randbytes(max(1, size))
            sha = hashlib.sha1(data).hexdigest()  # noqa: S324 - Odoo's filestore naming
            path = settings.filestore(name) / sha[:2] / sha
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            cr.execute(
                "INSERT INTO ir_attachment (name, type, store_fname, checksum, file_size, "
                "mimetype, res_model) VALUES (%s, 'binary', %s, %s, %s, 'image/jpeg', 'bench')",
                (f"day-{sha[:8]}.jpg", f"{sha[:2]}/{sha}", sha, len(data)),
            )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("name", help="tenant database (made by make_tenant.py)")
    p.add_argument("--days", type=int, default=28)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    base = Settings.from_env()
    if base.backup_offsite != "restic":
        sys.exit("set BACKUP_OFFSITE=restic (and BACKUP_ENCRYPTION_PASSWORD)")
    name, clone, copy = args.name, f"{args.name}_rc", f"{args.name}_rd"
    restored = f"{args.name}_rr"
    used: list[Settings] = []
    try:
        # 1. unchanged tenant
        settings = fresh(base, "unchanged")
        used.append(settings)
        t1, first = run_backup(name)
        t2, second = run_backup(name)
        full = bucket_bytes(settings)
        print(f"\nunchanged tenant {name}: {human_size(first['size_bytes'])} in the snapshot")
        print(f"first backup   {t1:7.2f} s, added {human_size(first['added_bytes'])}")
        print(
            f"second backup  {t2:7.2f} s, added {human_size(second['added_bytes'])} "
            f"= {second['added_bytes'] / first['added_bytes']:.2%} of the first, "
            f"time ratio {t2 / t1:.2f}"
        )
        print(f"bucket after one full backup: {human_size(full)}")

        # 2. a neutralized clone
        odoo_saas("db", "clone", name, clone)  # neutralized by default
        _t, cl = run_backup(clone)
        dump = dump_size(settings, clone)
        print(
            f"neutralized clone: added {human_size(cl['added_bytes'])}, its plain dump is "
            f"{human_size(dump)} (ratio {cl['added_bytes'] / dump:.2f})"
        )

        # 3. restore against odoo db load
        work = Path(tempfile.mkdtemp(prefix="bench-restic-", dir=base.backup_dir))
        odoo_zip = work / "odoo.zip"
        odoo_db(base, "dump", name, odoo_zip, db=name)
        rows: dict[str, list[float]] = {"odoo db load (Odoo's zip)": [], "restic restore": []}
        for _ in range(args.rounds):
            rows["odoo db load (Odoo's zip)"].append(
                timed(lambda: odoo_db(base, "load", restored, odoo_zip))
            )
            drop(base, restored)
            rows["restic restore"].append(
                timed(lambda: odoo_saas("db", "restore", restored, f"restic:{name}"))
            )
            drop(base, restored)
        shutil.rmtree(work, ignore_errors=True)
        report(f"restore of {name}", list(rows.items()), "odoo db load (Odoo's zip)")

        # 4. daily changes, one snapshot a day
        settings = fresh(base, "daily")
        used.append(settings)
        odoo_saas("db", "clone", name, copy)
        rng = random.Random(14)  # noqa: S311 - reproducible benchmark data
        start = datetime.now(timezone.utc) - timedelta(days=args.days)
        times = []
        one = 0
        for day in range(args.days):
            if day:
                change_a_day(settings, copy, rng)
            began = time.perf_counter()
            restic.back_up(settings, copy, when=start + timedelta(days=day))
            times.append(time.perf_counter() - began)
            if day == 0:
                one = bucket_bytes(settings)
        total = bucket_bytes(settings)
        print(
            f"\n{args.days} daily backups (1 % rows changed, 1 % new attachments a day): bucket "
            f"{human_size(total)} = {total / one:.2f} x one full backup ({human_size(one)}); "
            f"median backup {median(times[1:]):.2f} s"
        )
    finally:
        for s in used:
            delete_prefix(s)
        for db in (clone, copy, restored):
            with contextlib.suppress(Exception):
                drop(base, db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
