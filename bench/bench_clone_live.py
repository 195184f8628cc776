"""Clone of a tenant in use: `odoo-saas db clone` against `odoo db duplicate` while Odoo serves it.

Starts Odoo on the tenant the way a hoster runs it (workers 2, a cron worker, the rendered
odoo.conf), logs a client in (admin/admin, as make_tenant.py leaves it) and keeps it polling the
tenant through Odoo every 100 ms (a search_read on res.partner: a real database request) during
the whole run. Each round runs Odoo's duplicate and our clone of the running tenant, each
first in turn; medians, ratios to Odoo's, and what the client saw while each command ran
(requests, errors, worst latency) are printed. Our clone's method per run (template or
online) is shown too. The copies are dropped after each round, then the bench waits --settle
seconds (why: bench_restore.py).
Before each command the bench runs `sync` (outside the timing), as bench_restore.py does: the
command after Odoo's duplicate would otherwise pay for writing back its 550 MiB filestore copy.
When Odoo stops during a command (Odoo's duplicate terminates every session of the tenant,
its master's included, and the master may exit on that), it is restarted before the next
command, outside the timings and the next command's window, and the report says so.

    python bench/bench_clone_live.py bench_tenant --rounds 3
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from common import drop, odoo_db, odoo_saas, report

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo import runner as odoo_runner
from odoo_saas_tools.odoo.environment import odoo_environment


class Client:
    """A logged-in user polling the tenant; every request is logged as (start, seconds, error)."""

    def __init__(self, url: str, db: str) -> None:
        self.url = url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.log: list[tuple[float, float, str]] = []
        self.stop = threading.Event()
        result = self.call(
            "/web/session/authenticate", {"db": db, "login": "admin", "password": "admin"}
        )
        if not result.get("uid"):
            raise SystemExit(f"cannot log in to {db} as admin: {result}")

    def call(self, path: str, params: dict) -> dict:
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params}).encode()
        request = urllib.request.Request(  # noqa: S310 - http on loopback
            self.url + path, body, {"Content-Type": "application/json"}
        )
        with self.opener.open(request, timeout=30) as response:
            answer = json.loads(response.read())
        if "error" in answer:
            raise RuntimeError(answer["error"].get("data", {}).get("name") or answer["error"])
        return answer["result"]

    def poll(self) -> None:
        params = {
            "model": "res.partner",
            "method": "search_read",
            "args": [[]],
            "kwargs": {"fields": ["name", "email"], "limit": 20},
        }
        while not self.stop.is_set():
            started = time.monotonic()
            error = ""
            try:
                self.call("/web/dataset/call_kw/res.partner/search_read", params)
            except Exception as exc:  # every failure the user would see
                error = f"{type(exc).__name__}: {exc}"[:120]
            self.log.append((started, time.monotonic() - started, error))
            self.stop.wait(max(0.0, 0.1 - (time.monotonic() - started)))

    def wait_answered(self, since: float, timeout: float = 60) -> None:
        """Until a request started after `since` succeeded (Odoo is back for the user)."""
        deadline = time.monotonic() + timeout
        while not any(r[0] >= since and not r[2] for r in self.log[-20:]):
            if time.monotonic() > deadline:
                raise SystemExit("the client gets no answer from the restarted Odoo")
            time.sleep(0.1)

    def seen(self, start: float, end: float) -> tuple[int, list[str], float]:
        """Requests started in [start, end] (or still running at start), errors, worst latency."""
        hits = [r for r in self.log if r[0] <= end and r[0] + r[1] >= start]
        return len(hits), [r[2] for r in hits if r[2]], max((r[1] for r in hits), default=0.0)


def start_odoo(settings: Settings, db: str, port: int, log: Path) -> subprocess.Popen:
    """Odoo serving db; its log goes to `log` (shown when it stops during the run)."""
    argv = [
        settings.odoo_bin,
        "server",
        "-c",
        str(odoo_runner.config_path(settings)),
        "-d",
        db,
        "--db-filter",
        f"^{db}$",
        "--workers",
        "2",
        "--max-cron-threads",
        "1",
        "--http-interface",
        "127.0.0.1",
        "--http-port",
        str(port),
        "--gevent-port",
        str(port + 3),
        "--log-level",
        "warn",
        "--logfile",
        str(log),
    ]
    return subprocess.Popen(
        argv, env=odoo_environment(settings), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )


def wait_http(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            info = url + "/web/webclient/version_info"
            with urllib.request.urlopen(info, b"{}", timeout=5):  # noqa: S310 - loopback
                return
        except urllib.error.HTTPError:
            return  # Odoo answers
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("name", help="tenant database to clone (made by make_tenant.py)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--port", type=int, default=18569, help="Odoo's HTTP port for the run")
    p.add_argument(
        "--settle",
        type=float,
        default=61,
        help="seconds of quiet after each round's drops (bench_restore.py says why; 0: drop "
        "each copy at once, as before)",
    )
    args = p.parse_args(argv)
    settings = Settings.from_env()
    tag = uuid.uuid4().hex[:6]
    url = f"http://127.0.0.1:{args.port}"
    odoo_saas("db", "list")  # caches Odoo's addons path outside the timing, as in production
    log = Path(tempfile.mkdtemp(prefix="bench-clone-live-")) / "odoo.log"
    server = start_odoo(settings, args.name, args.port, log)
    ours, theirs = "odoo-saas db clone (source served)", "odoo db duplicate (source served)"
    rows: dict[str, list[float]] = {theirs: [], ours: []}
    seen: dict[str, list[tuple[int, list[str], float]]] = {theirs: [], ours: []}
    methods: list[str] = []
    copies: list[str] = []
    deaths: list[str] = []
    try:
        wait_http(url)
        client = Client(url, args.name)
        poller = threading.Thread(target=client.poll, daemon=True)
        poller.start()
        time.sleep(3)  # the pools of both workers and the cron worker hold connections now
        for i in range(args.rounds):
            # Odoo's duplicate disconnects every user and its workers then reconnect: whichever
            # command comes 3 s after it meets that, so the order alternates round by round.
            for label in (theirs, ours) if i % 2 == 0 else (ours, theirs):
                dst = f"bench_live_{tag}_{i}_{'ours' if label == ours else 'odoo'}"
                copies.append(dst)
                os.sync()  # no command pays for writing back the previous one's files
                start = time.monotonic()
                if label == ours:
                    out = odoo_saas("db", "clone", args.name, dst, "--json")
                    methods.append(json.loads(out)["method"])
                else:
                    odoo_db(settings, "duplicate", args.name, dst)
                end = time.monotonic()
                if not args.settle:
                    drop(settings, copies.pop())
                rows[label].append(end - start)
                time.sleep(1.5)  # let the client's late requests land in this window
                seen[label].append(client.seen(start, end))
                if server.poll() is not None:  # Odoo died in this window: the next one gets one
                    deaths.append(f"round {i + 1}, {label}: Odoo exited {server.returncode}")
                    server = start_odoo(settings, args.name, args.port, log)
                    wait_http(url)
                    client.wait_answered(time.monotonic())
                time.sleep(1.5)
            while copies:
                drop(settings, copies.pop())
            if args.settle:
                os.sync()
                time.sleep(args.settle)
        client.stop.set()
        poller.join()
    finally:
        for dst in copies:
            drop(settings, dst)
        died = server.poll()
        server.terminate()
        server.wait(30)
    if died is not None:  # the client's errors below are Odoo's death, not a clone's blip
        print(f"Odoo stopped during the run (exit {died}); its log, last lines ({log}):")
        print("\n".join(log.read_text(errors="replace").splitlines()[-30:]))
    report(f"clone of {args.name} while Odoo serves it", list(rows.items()), theirs)
    for death in deaths:  # restarted at once, outside the timings and the next window
        print(f"Odoo stopped during the run, {death}; restarted")
    print(f"\nour clone's method per run: {' '.join(methods)}")
    print(
        f"{'client polling every 100 ms during':<44} {'requests':>9} {'errors':>7} {'worst s':>8}"
    )
    for label, runs in seen.items():
        for n, errors, worst in runs:
            print(f"{label:<44} {n:>9} {len(errors):>7} {worst:>8.2f}")
            for error in sorted(set(errors)):
                print(f"    {error}")
    total = len(client.log)
    print(f"client overall: {total} requests, {sum(1 for r in client.log if r[2])} errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
