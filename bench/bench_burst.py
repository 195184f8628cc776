"""Signup burst: N `odoo-saas tenant provision` calls started at once on a warm template cache.

Reports each call's time (median, p95, max), the burst's wall time and tenants per second, and
checks that every call succeeded, that no template was built during the burst and that one more
call for an existing name exits 3 (counted as a failure otherwise). Targets (issue 13): p95 <= 2 s,
>= 3 tenants/s on 2 cores.

Rounds alternate three set-ups:
- `copy`: no spare tenants, every call copies the template;
- `spares`: `tenant spares --fill` made one spare per call beforehand, then the machine was
  left alone for --settle seconds, as spares are made well before a burst; each call runs in
  its own process;
- `served`: the same spares, with the command server (`tenant serve`) running, as the stack's
  `signups` program runs it beside `spares` (PROVISION_SPARES > 0): each call hands its command
  line to it. Root's calls never do (docs/security.md): run these rounds as the runtime user.

    python bench/bench_burst.py --tenants 20 [--rounds 2] [--modes copy,spares,served]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from common import drop, odoo_saas

from odoo_saas_tools.core.settings import Settings


def provision(name: str, spares: int = 0) -> tuple[int, float, dict]:
    """One signup as a hoster's script runs it, with PROVISION_SPARES=spares."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "odoo_saas_tools", "-q", "tenant", "provision", name, "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "PROVISION_SPARES": str(spares)},
    )
    elapsed = time.perf_counter() - started
    return proc.returncode, elapsed, json.loads(proc.stdout) if proc.returncode == 0 else {}


def start_server(settings: Settings) -> subprocess.Popen:
    """`tenant serve`, as supervisord runs it; back once its socket answers."""
    server = subprocess.Popen(
        [sys.executable, "-m", "odoo_saas_tools", "tenant", "serve"],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not settings.command_socket.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"tenant serve did not start: {server.communicate()[1]}")
        time.sleep(0.05)
    return server


def stop_server(server: subprocess.Popen) -> int:
    """Stop it; the number of command lines it ran (one log line each)."""
    server.terminate()
    _, err = server.communicate(timeout=30)
    return sum(": exit " in line for line in err.splitlines())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tenants", type=int, default=20)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--modes", default="copy,spares,served")
    p.add_argument("--settle", type=float, default=20.0)
    args = p.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    if "served" in modes and os.geteuid() == 0:
        p.error("served rounds need a caller other than root (root's calls run in place)")
    settings = Settings.from_env()
    tag = uuid.uuid4().hex[:6]
    made = [f"{settings.tenant_db_prefix}burst_warm_{tag}"]
    failures = 0
    try:
        odoo_saas("tenant", "provision", f"burst_warm_{tag}")  # the cache is warm from here on
        print(f"signup burst: {args.tenants} provisions at once, {args.rounds} round(s)")
        heads = ("median s", "p95 s", "max s", "wall s", "tenants/s")
        print(f"{'round':>5} {'mode':>7} " + " ".join(f"{h:>9}" for h in heads))
        for r, mode in ((r, m) for r in range(args.rounds) for m in modes):
            count = args.tenants if mode in ("spares", "served") else 0
            odoo_saas("tenant", "spares", "--fill", "--count", str(count))  # 0: drops them
            if count:
                time.sleep(args.settle)
            server = start_server(settings) if mode == "served" else None
            names = [f"burst_{tag}_{r}_{mode}_{i}" for i in range(args.tenants)]
            made += [settings.tenant_db_prefix + n for n in names]
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=len(names)) as pool:
                results = list(pool.map(provision, names, [count] * len(names)))
            wall = time.perf_counter() - started
            again, _, _ = provision(names[0], count)  # the 21st, for an existing name
            failures += again != 3
            served = stop_server(server) if server else 0
            times = sorted(t for _, t, _ in results)
            failures += sum(rc != 0 for rc, _, _ in results)
            built = sum(bool(res.get("template_built")) for _, _, res in results)
            claimed = sum(bool(res.get("spare")) for _, _, res in results)
            p95 = times[max(0, round(0.95 * len(times)) - 1)]
            print(
                f"{r + 1:>5} {mode:>7} {statistics.median(times):>9.2f} {p95:>9.2f} "
                f"{times[-1]:>9.2f} {wall:>9.2f} {len(names) / wall:>9.2f}   failed {failures}, "
                f"templates built {built}, spares claimed {claimed}, served {served}, "
                f"then an existing name: exit {again}"
            )
    finally:
        odoo_saas("tenant", "spares", "--fill", "--count", "0")
        for name in made:
            drop(settings, name)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
