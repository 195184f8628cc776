"""500 tenants on one cluster: `db list --json`, the exporter's background pass and scrape,
`backup run` (throughput over time and peak memory) and pre-flight, each timed.

The tenants are small Odoo-shaped databases (the tables our tools read, a few attachments), made
here without Odoo: the figures are about how the commands scale with the number of tenants.
Targets (issue 13): db list <= 2 s (timed cold, warm and with a tenth written to), scrape <= 50 ms,
background pass <= 5 s, backup run steady with flat memory, pre-flight <= 10 s.

    python bench/bench_many.py --tenants 500 [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from common import drop

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.observability.metrics import tenant_scans
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.tenants import listing_memo

SCHEMA = """
CREATE TABLE ir_module_module (id serial PRIMARY KEY, name varchar NOT NULL,
    state varchar, latest_version varchar);
INSERT INTO ir_module_module (name, state, latest_version) VALUES ('base', 'installed', '19.0.1.3');
CREATE TABLE ir_config_parameter (id serial PRIMARY KEY, key varchar UNIQUE NOT NULL, value text);
CREATE TABLE ir_cron (id serial PRIMARY KEY, active boolean, nextcall timestamp);
CREATE TABLE ir_attachment (id serial PRIMARY KEY, name varchar, store_fname varchar,
    checksum varchar, file_size int);
CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar);
INSERT INTO res_partner (name) SELECT 'p' || i FROM generate_series(1, 200) i;
"""


def make(settings: Settings, name: str) -> None:
    databases.create_database(settings, name)  # with its own role, as odoo-saas makes tenants
    with connect(settings, name) as conn, conn.cursor() as cr:
        cr.execute(SCHEMA)
        store = settings.filestore(name)
        for i in range(3):
            data = f"{name} attachment {i}".encode()
            sha = hashlib.sha1(data, usedforsecurity=False).hexdigest()
            (store / sha[:2]).mkdir(parents=True, exist_ok=True)
            (store / sha[:2] / sha).write_bytes(data)
            cr.execute(
                "INSERT INTO ir_attachment (name, store_fname, checksum, file_size) "
                "VALUES (%s, %s, %s, %s)",
                (f"f{i}", f"{sha[:2]}/{sha}", sha, len(data)),
            )


MEMO_AGE = 900.0  # longer than any memo entry is trusted (tenants.listing_memo.MAX_AGE)


def age_memo(settings: Settings) -> None:
    """Make db list's memo look MEMO_AGE seconds old: the next listing is the one a hoster gets
    after a quarter of an hour without any."""
    path = listing_memo.memo_path(settings)
    data = json.loads(path.read_text())
    for entry in data.get("tenants", {}).values():
        for stamp in ("sized", "until"):  # "until": the memo of earlier versions
            if stamp in entry:
                entry[stamp] -= MEMO_AGE
    path.write_text(json.dumps(data))


def timed_cli(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "odoo_saas_tools", *args], capture_output=True, text=True
    )
    return time.perf_counter() - started, proc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tenants", type=int, default=500)
    p.add_argument("--keep", action="store_true", help="leave the tenants (for a second run)")
    args = p.parse_args(argv)
    settings = Settings.from_env()
    tag = "many"
    names = [f"{tag}_{i:04d}_{uuid.uuid4().hex[:4]}" for i in range(args.tenants)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda n: make(settings, n), names))
    print(f"{args.tenants} tenants made in {time.perf_counter() - started:.1f} s")
    try:
        seconds, proc = timed_cli("db", "list", "--json", "--fresh")
        print(
            f"db list --json --fresh (every tenant asked): {seconds:.2f} s (exit {proc.returncode})"
        )
        seconds, proc = timed_cli("db", "list", "--json")
        print(f"db list --json, nothing written since: {seconds:.2f} s (exit {proc.returncode})")
        written = names[::10]  # a tenth of the tenants used meanwhile
        for name in written:
            with connect(settings, name) as conn, conn.cursor() as cr:
                cr.execute("UPDATE res_partner SET name = name || '.' WHERE id = 1")
        seconds, proc = timed_cli("db", "list", "--json")
        print(
            f"db list --json, {len(written)} tenants written since: {seconds:.2f} s "
            f"(exit {proc.returncode})"
        )
        age_memo(settings)
        seconds, proc = timed_cli("db", "list", "--json")
        print(
            f"db list --json, the last listing {MEMO_AGE:.0f} s ago: {seconds:.2f} s "
            f"(exit {proc.returncode})"
        )

        from prometheus_client import generate_latest

        from odoo_saas_tools.observability.metrics.collector import make_registry
        from odoo_saas_tools.observability.metrics.refresher import Refresher

        tenant_scans.scans_path(settings).unlink(missing_ok=True)
        refresher = Refresher(settings)
        for which in (
            "the first ever (or after a PostgreSQL crash): every tenant looked into",
            "the next (tenants nobody wrote to skipped)",
            "the first after an exporter restart (scans kept on the data volume)",
        ):
            if "restart" in which:
                refresher = Refresher(settings)
            t0 = time.perf_counter()
            refresher.refresh_slow()
            refresher.refresh_fast()
            print(f"metrics background pass, {which}: {time.perf_counter() - t0:.2f} s")
        registry = make_registry(refresher)
        scrapes = []
        for _ in range(20):
            t0 = time.perf_counter()
            generate_latest(registry)
            scrapes.append(time.perf_counter() - t0)
        scrapes.sort()
        print(
            f"metrics scrape: median {scrapes[10] * 1000:.1f} ms, max {scrapes[-1] * 1000:.1f} ms"
        )

        seconds, proc = timed_cli("preflight", "--json")
        print(f"pre-flight: {seconds:.2f} s (exit {proc.returncode}: without Odoo here it reports)")

        # its own peak: wait4 reports the memory of this child (and of what it waited for) only,
        # not of earlier children such as pre-flight's Odoo probe
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "odoo_saas_tools", "backup", "run", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert child.stdout is not None
        out = child.stdout.read()
        _pid, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        proc = subprocess.CompletedProcess(child.args, child.returncode, out, "")
        print(
            f"backup run: {seconds:.1f} s for {args.tenants} tenants "
            f"({args.tenants / seconds:.1f}/s), peak RSS {usage.ru_maxrss / 1024:.0f} MiB, "
            f"exit {proc.returncode}"
        )

        outcomes = json.loads(proc.stdout).get("tenants", []) if proc.stdout else []
        durations = [o.get("duration_seconds", 0) for o in outcomes]
        if durations:
            quarter = max(1, len(durations) // 4)
            quarters = [
                sum(durations[i : i + quarter]) / len(durations[i : i + quarter])
                for i in range(0, len(durations), quarter)
            ]
            print("backup seconds per tenant by quarter of the run: "
                  + " ".join(f"{q:.3f}" for q in quarters[:4]))  # fmt: skip
    finally:
        if not args.keep:
            with ThreadPoolExecutor(max_workers=4) as pool:
                list(pool.map(lambda n: drop(settings, n), names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
