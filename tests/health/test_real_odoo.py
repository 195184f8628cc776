"""With real Odoo 19 (skipped without it): health passes, the exporter sees Odoo's real tree."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.observability.metrics.process import master_process
from tests.metrics.conftest import labelled, parse, value
from tests.support.cli import run_cli
from tests.support.net import wait_port

pytestmark = pytest.mark.odoo


def tree_rss(pid: int) -> int:
    """The tree's resident memory from /proc (VmRSS), not through the code under test."""
    master = psutil.Process(pid)
    total = 0
    for proc in [master, *master.children(recursive=True)]:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def test_real_odoo_is_healthy_and_measured(odoo_bin, health_env, tmp_path):
    env = {
        **health_env,
        "ODOO_BIN": odoo_bin,
        "ODOO_WORKERS": "2",
        "ODOO_MAX_CRON_THREADS": "1",
        "ODOO_HTTP_INTERFACE": "127.0.0.1",
    }
    settings = Settings.from_env(env)
    run_cli(env, "render", check=True)
    odoo_log = tmp_path / "odoo.log"
    # as supervisord runs it: our wrapper, which starts Odoo with the rendered odoo.conf
    with open(odoo_log, "wb") as log:
        wrapper = subprocess.Popen(
            [sys.executable, "-m", "odoo_saas_tools", "run-odoo"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        try:
            wait_port(settings.http_port, 120)
        except TimeoutError:
            raise AssertionError(odoo_log.read_text()[-3000:]) from None
        deadline = time.monotonic() + 60
        master = None
        while time.monotonic() < deadline:  # master, 2 HTTP workers, 1 cron worker, gevent
            master = master_process(settings)
            if master and len(master.children(recursive=True)) >= 4:
                break
            time.sleep(0.5)
        assert master is not None, "Odoo wrote no pid file"
        assert master.pid != wrapper.pid  # the pid file names Odoo, not our wrapper

        proc = run_cli(env, "health", timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        for check in ("process", "http", "database", "memory"):
            assert f"ok    {check}:" in proc.stdout or f"warn  {check}:" in proc.stdout, proc.stdout
        assert "Odoo reaches PostgreSQL" in proc.stdout

        shown = run_cli(env, "metrics", "show", timeout=60)
        assert shown.returncode == 0, shown.stderr
        samples = parse(shown.stdout)
        real = tree_rss(master.pid)
        assert value(samples, "odoo_up") == 1
        assert value(samples, "odoo_process_running") == 1
        kinds = labelled(samples, "odoo_worker_processes", "kind")
        assert kinds.get("gevent") == 1, kinds
        assert sum(kinds.values()) == value(samples, "odoo_processes") - 1 >= 4
        reported = value(samples, "odoo_memory_usage_bytes")
        assert abs(reported - real) <= 0.15 * real, (reported, real)
        wrapper_rss = psutil.Process(wrapper.pid).memory_info().rss
        assert reported > 4 * wrapper_rss  # Odoo's processes, not a small wrapper
    finally:
        if wrapper.poll() is None:
            wrapper.send_signal(signal.SIGTERM)
            try:
                wrapper.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(wrapper.pid, signal.SIGKILL)
                wrapper.wait(5)

    proc = run_cli(env, "health", timeout=60)
    assert proc.returncode == 1
    assert "fail  process:" in proc.stdout and "fail  http:" in proc.stdout
