"""`odoo-saas health` against a stand-in Odoo that answers, is stopped, hangs, or lost its DB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.observability import health
from tests.support.cli import run_cli
from tests.support.net import free_port
from tests.support.odoo_standin import FakeOdoo

ROOT = Path(__file__).resolve().parents[2]


def lines(stdout: str) -> dict[str, str]:
    """{check name: status} from the one-line-per-check output."""
    out = {}
    for line in stdout.splitlines():
        status, _, rest = line.partition("  ")
        if ":" in rest:
            out[rest.split(":", 1)[0].strip()] = status.strip()
    return out


@pytest.fixture
def odoo_factory(health_env):
    made: list[FakeOdoo] = []

    def factory(mode: str = "pass") -> FakeOdoo:
        tree = FakeOdoo(
            Path(health_env["ODOO_SAAS_RUNTIME_DIR"]),
            children=2,
            http_port=int(health_env["ODOO_HTTP_PORT"]),
            mode=mode,
        )
        made.append(tree)
        return tree

    yield factory
    for tree in made:
        tree.stop()


def test_healthy(health_env, odoo_factory):
    tree = odoo_factory("pass")
    proc = run_cli(health_env, "health")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines(proc.stdout) == {"process": "ok", "http": "ok", "database": "ok", "memory": "ok"}
    assert f"pid {tree.proc.pid}, 3 processes" in proc.stdout
    assert proc.stdout.rstrip().endswith("healthy")

    proc = run_cli(health_env, "health", "--json")
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    assert data["healthy"] is True
    assert [c["name"] for c in data["checks"]] == ["process", "http", "database", "memory"]


def test_stopped_odoo_is_unhealthy_at_once(health_env):
    started = time.monotonic()
    proc = run_cli(health_env, "health")
    elapsed = time.monotonic() - started
    assert proc.returncode == 1
    checks = lines(proc.stdout)
    assert checks["process"] == "fail" and checks["http"] == "fail"
    assert checks["memory"] == "skip"
    # PostgreSQL itself is fine: asked directly since Odoo does not answer
    assert checks["database"] == "ok" and "asked directly" in proc.stdout
    assert "UNHEALTHY" in proc.stdout
    assert elapsed < 5, elapsed


def test_stale_pid_file_is_not_a_running_odoo(health_env):
    pidfile = Path(health_env["ODOO_SAAS_RUNTIME_DIR"]) / "odoo.pid"
    pidfile.write_text(f"{2**22 + 12345}\n")  # above pid_max's default: never a process
    proc = run_cli(health_env, "health")
    assert proc.returncode == 1
    assert lines(proc.stdout)["process"] == "fail"
    pidfile.write_text("garbage")
    proc = run_cli(health_env, "health")
    assert proc.returncode == 1 and lines(proc.stdout)["process"] == "fail"


def test_hung_odoo_fails_within_the_budget(health_env, odoo_factory):
    odoo_factory("hang")  # accepts connections, never answers
    started = time.monotonic()
    proc = run_cli(health_env, "health", timeout=30)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1
    checks = lines(proc.stdout)
    assert checks["process"] == "ok" and checks["http"] == "fail"
    assert "no answer within" in proc.stdout
    assert elapsed < health.DEFAULT_BUDGET + 2, elapsed

    # a budget shorter than a probe's timeout: the unfinished checks fail, on time
    started = time.monotonic()
    proc = run_cli(health_env, "health", "--timeout", "1.5", "--json", timeout=30)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    by_name = {c["name"]: c for c in data["checks"]}
    assert by_name["http"]["status"] == "fail"
    assert "no result within 1.5 s" in by_name["http"]["message"]
    assert elapsed < 1.5 + 2, elapsed


def test_database_down_as_odoo_reports_it(health_env, odoo_factory):
    odoo_factory("db-down")
    proc = run_cli(health_env, "health")
    assert proc.returncode == 1
    checks = lines(proc.stdout)
    assert checks["http"] == "ok" and checks["database"] == "fail"
    assert "Odoo cannot reach PostgreSQL" in proc.stdout


def test_memory_warning_stays_healthy(health_env, odoo_factory):
    tree = odoo_factory("pass")
    settings = Settings.from_env({**health_env, "ODOO_MEMORY_WARN_PERCENT": "80"})
    rss = tree.rss_from_proc()
    warned = health.check_memory(settings, limit=int(rss * 1.1))  # at ~91% of the limit
    assert warned.status == health.WARN and warned.healthy
    assert "warning at 80%" in warned.message
    fine = health.check_memory(settings, limit=rss * 10)
    assert fine.status == health.OK


def test_redis_check(health_env, odoo_factory, redis_server):
    odoo_factory("pass")
    env = {**health_env, "ODOO_ENABLE_REDIS": "true", "ODOO_REDIS_URL": redis_server.url}
    proc = run_cli(env, "health")
    assert proc.returncode == 0, proc.stdout
    assert lines(proc.stdout)["redis"] == "ok"
    assert "redis-test-secret" not in proc.stdout + proc.stderr

    env["ODOO_REDIS_URL"] = f"redis://:nope@127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    proc = run_cli(env, "health")
    assert proc.returncode == 1
    assert lines(proc.stdout)["redis"] == "fail"
    assert "nope" not in proc.stdout
    assert time.monotonic() - started < health.DEFAULT_BUDGET + 2


def test_health_check_script(health_env, odoo_factory):
    odoo_factory("pass")
    env = {**health_env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{health_env['PATH']}"}
    proc = subprocess.run(
        [str(ROOT / "scripts" / "health-check.sh"), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["healthy"] is True


def test_bad_timeout_is_a_usage_error(health_env):
    proc = run_cli(health_env, "health", "--timeout", "0")
    assert proc.returncode == 2
    assert "--timeout must be positive" in proc.stderr


def test_pid_file_naming_a_younger_process_is_stale(health_env):
    """After a crash the kernel may hand Odoo's old pid to another process: not Odoo."""
    pidfile = Path(health_env["ODOO_SAAS_RUNTIME_DIR"]) / "odoo.pid"
    old = time.time() - 600
    other = subprocess.Popen(["sleep", "30"])
    try:
        pidfile.write_text(f"{other.pid}\n")
        os.utime(pidfile, (old, old))  # written long before that process started
        settings = Settings.from_env(health_env)
        assert health.check_process(settings).status == health.FAIL
        os.utime(pidfile, None)  # written after it started: it may be Odoo
        assert health.check_process(settings).status == health.OK
    finally:
        other.kill()
        other.wait()


def test_cron_role_has_no_http_to_ask(health_env, odoo_factory):
    odoo_factory("pass")
    proc = run_cli({**health_env, "ODOO_SAAS_ROLE": "cron"}, "health")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines(proc.stdout) == {"process": "ok", "database": "ok", "memory": "ok"}
    assert "PostgreSQL at" in proc.stdout and "Odoo does not answer" not in proc.stdout


@pytest.mark.parametrize("role", ["backup", "metrics"])
def test_roles_without_odoo_check_their_program_not_odoo(health_env, role):
    """The image's HEALTHCHECK in a backup or metrics container (no supervisord here: unhealthy,
    for the program, never for a missing Odoo)."""
    proc = run_cli({**health_env, "ODOO_SAAS_ROLE": role}, "health")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert lines(proc.stdout) == {"programs": "fail", "database": "ok"}
    program = "backup-scheduler" if role == "backup" else "metrics"
    assert f"not running: {program}" in proc.stdout
    assert "Odoo" not in proc.stdout
