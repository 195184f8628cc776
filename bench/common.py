"""Shared helpers of the benchmarks: timing, Odoo's own commands, clean-up."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo import runner as odoo_runner
from odoo_saas_tools.odoo.environment import odoo_environment
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.tenants import filestore


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def median(values: list[float]) -> float:
    return statistics.median(values)


def odoo_db(settings: Settings, *args: str | Path, db: str | None = None) -> None:
    """`odoo db -c <rendered conf> ...` exactly as a hoster would run it (clean environment).

    Odoo's own role may neither create databases nor read a tenant's (docs/security.md): a
    command reading tenant db runs as db's role, one making databases (init, load, duplicate)
    as the management role, as a hoster would have to run them."""
    argv = [settings.odoo_bin, "db", "-c", str(odoo_runner.config_path(settings))]
    argv += [str(a) for a in args]
    subprocess.run(
        argv,
        env=odoo_environment(settings, login=settings.login_for(db)),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def report(title: str, rows: list[tuple[str, list[float]]], baseline: str) -> None:
    """A table of medians and the ratio of each row to the baseline row."""
    base = median(dict(rows)[baseline])
    print(f"\n{title}")
    print(f"{'command':<44} {'median s':>9} {'runs':>24} {'ratio':>7}")
    for label, values in rows:
        runs = " ".join(f"{v:.2f}" for v in values)
        print(f"{label:<44} {median(values):>9.2f} {runs:>24} {median(values) / base:>7.2f}")


def odoo_saas(*args: str | Path) -> str:
    """`odoo-saas ...` as a separate process (start-up included, like Odoo's); its stdout."""
    proc = subprocess.run(
        [sys.executable, "-m", "odoo_saas_tools", "-q", *[str(a) for a in args]],
        check=True,
        capture_output=True,
        text=True,
    )
    return proc.stdout


def drop(settings: Settings, name: str) -> None:
    """Remove a benchmark database and its filestore."""
    databases.drop(settings, name)
    filestore.remove(settings.filestore(name))
