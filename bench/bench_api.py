"""The control API's cost: its overhead on a provisioning against the CLI, a burst of creates
through it, and `GET /v1/tenants` over many tenants.

Starts its own `odoo-saas api serve` (on a free loopback port, with the environment every
odoo-saas command reads) and an admin token, then runs the parts asked for:

- `overhead` (needs real Odoo, ODOO_BIN, and a warm template cache): rounds alternate
  `odoo-saas tenant provision NAME --json` (a process, as a hoster's script runs it) and
  `POST /v1/tenants` followed by polling the job every 10 ms until it ended; p50/p95 of each
  and of the difference. Goal: the API adds at most 50 ms.
- `burst` (real Odoo): --burst creates posted at once; each one's time from its POST to its
  job's end, p50/p95/max, the wall time and tenants/s (ODOO_SAAS_API_JOBS run at once).
- `list`: --tenants Odoo-shaped databases made without Odoo (the tables the listing reads),
  then `GET /v1/tenants` (the default page of 50, and all of them with limit=500) and
  `GET /v1/tenants/{name}`, cold (the first listing asks every tenant) and warm. Goal: <= 300 ms.

    python bench/bench_api.py --parts list --tenants 500
    ODOO_BIN=... python bench/bench_api.py --parts overhead,burst --rounds 10 --burst 20
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from common import drop

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect

SCHEMA = """
CREATE TABLE ir_module_module (id serial PRIMARY KEY, name varchar NOT NULL,
    state varchar, latest_version varchar);
INSERT INTO ir_module_module (name, state, latest_version) VALUES ('base', 'installed', '19.0.1.3');
CREATE TABLE ir_config_parameter (id serial PRIMARY KEY, key varchar UNIQUE NOT NULL, value text);
CREATE TABLE res_users (id serial PRIMARY KEY, login varchar, active boolean, share boolean);
INSERT INTO res_users (login, active, share) VALUES ('admin', true, false), ('portal', true, true);
"""


class Api:
    def __init__(self, settings: Settings) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        env = {
            **os.environ,
            "ODOO_SAAS_API_PORT": str(self.port),
            "ODOO_SAAS_API_BIND": "127.0.0.1",
        }
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - the server writes it
            prefix="bench-api-", suffix=".log", delete=False
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "odoo_saas_tools", "api", "serve"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the API did not start (log: {self.log.name})") from None
                time.sleep(0.05)
        name = f"bench-{uuid.uuid4().hex[:6]}"
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "odoo_saas_tools",
                "api",
                "token",
                "create",
                name,
                "--scope",
                "admin",
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        self.token = json.loads(out)["token"]
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def call(self, method: str, path: str, body: object = None, conn=None) -> tuple[int, dict]:
        conn = conn or self.conn
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")

    def create(self, name: str, conn=None) -> tuple[float, dict]:
        """POST, then poll the job until it ended: (seconds, the job)."""
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        started = time.perf_counter()
        status, answer = self.call("POST", "/v1/tenants", {"name": name}, conn)
        if status != 202:
            raise SystemExit(f"POST /v1/tenants: {status} {answer}")
        job_id = answer["job"]["id"]
        while True:
            _, job = self.call("GET", f"/v1/jobs/{job_id}", conn=conn)
            if job["state"] in ("succeeded", "failed"):
                return time.perf_counter() - started, job
            time.sleep(0.01)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def line(label: str, values: list[float]) -> None:
    print(
        f"{label:<44} p50 {statistics.median(values) * 1000:8.1f} ms  "
        f"p95 {pct(values, 0.95) * 1000:8.1f} ms  max {max(values) * 1000:8.1f} ms  n={len(values)}"
    )


def overhead(settings: Settings, api: Api, rounds: int) -> None:
    prefix = settings.tenant_db_prefix
    cli, through_api, made = [], [], []
    for i in range(rounds):
        name = f"bo{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "odoo_saas_tools", "-q", "tenant", "provision", name, "--json"],
            check=True,
            capture_output=True,
        )
        cli.append(time.perf_counter() - started)
        other = f"bo{uuid.uuid4().hex[:8]}"
        seconds, job = api.create(other)
        if job["state"] != "succeeded":
            raise SystemExit(f"API create failed: {job['error']}")
        through_api.append(seconds)
        made += [prefix + name, prefix + other]
        print(f"round {i + 1}: cli {cli[-1]:.3f} s, api {through_api[-1]:.3f} s", flush=True)
    print("\nprovisioning, CLI process against API call + job polling")
    line("odoo-saas tenant provision (a process)", cli)
    line("POST /v1/tenants until the job ended", through_api)
    line(
        "difference (API - CLI), per round", [a - c for a, c in zip(through_api, cli, strict=True)]
    )
    for db in made:
        drop(settings, db)


def burst(settings: Settings, api: Api, count: int) -> None:
    names = [f"bb{uuid.uuid4().hex[:8]}" for _ in range(count)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(api.create, names))
    wall = time.perf_counter() - started
    failed = [job["error"] for _, job in results if job["state"] != "succeeded"]
    print(f"\nburst of {count} creates through the API ({settings.api_jobs} jobs at once)")
    line("POST until the job ended", [s for s, _ in results])
    print(f"wall {wall:.2f} s, {count / wall:.2f} tenants/s, failed {len(failed)} {failed[:3]}")
    for name in names:
        drop(settings, settings.tenant_db_prefix + name)


def make_fake(settings: Settings, db: str) -> None:
    databases.create_database(settings, db)
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute(SCHEMA)


def listing(settings: Settings, api: Api, count: int, keep: bool) -> None:
    made = [f"{settings.tenant_db_prefix}bl{i:04d}{uuid.uuid4().hex[:4]}" for i in range(count)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda db: make_fake(settings, db), made))
    print(f"\n{count} tenants made in {time.perf_counter() - started:.1f} s")
    try:
        for label, path in (
            ("GET /v1/tenants (page of 50)", "/v1/tenants"),
            ("GET /v1/tenants?limit=500", "/v1/tenants?limit=500"),
        ):
            times = []
            for _ in range(11):
                started = time.perf_counter()
                status, page = api.call("GET", path)
                times.append(time.perf_counter() - started)
                assert status == 200 and page["total"] >= count, (status, page.get("total"))
            print(f"{label}: first {times[0] * 1000:.1f} ms (cold: every tenant asked)")
            line(f"{label}, warm", times[1:])
        name = made[count // 2][len(settings.tenant_db_prefix) :]
        times = []
        for _ in range(10):
            started = time.perf_counter()
            status, _ = api.call("GET", f"/v1/tenants/{name}")
            times.append(time.perf_counter() - started)
            assert status == 200
        line("GET /v1/tenants/{name}", times)
    finally:
        if not keep:
            with ThreadPoolExecutor(max_workers=4) as pool:
                list(pool.map(lambda db: drop(settings, db), made))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--parts", default="list", help="comma-separated: overhead, burst, list")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--burst", type=int, default=20)
    p.add_argument("--tenants", type=int, default=500)
    p.add_argument("--keep", action="store_true", help="keep the list part's tenants")
    args = p.parse_args(argv)
    settings = Settings.from_env()
    api = Api(settings)
    try:
        parts = args.parts.split(",")
        if "overhead" in parts:
            overhead(settings, api, args.rounds)
        if "burst" in parts:
            burst(settings, api, args.burst)
        if "list" in parts:
            listing(settings, api, args.tenants, args.keep)
    finally:
        api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
