"""Health checks of the running stack, each with its own timeout, all within one time budget.

Used by `odoo-saas health` / health-check.sh (the image's HEALTHCHECK). The checks run side by
side in threads: a hung Odoo or PostgreSQL costs one probe's timeout, not the sum, and a check
still running when the budget is spent counts as failed. Nothing here changes anything.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from odoo_saas_tools.core import execute
from odoo_saas_tools.core.errors import CommandError, SaasError
from odoo_saas_tools.core.output import human_size
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.observability.metrics import database, process, web
from odoo_saas_tools.runtime import resources
from odoo_saas_tools.sessions.status import check_redis

DEFAULT_BUDGET = 8.0
PROBE_TIMEOUT = 3.0

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"


@dataclass
class CheckResult:
    name: str
    status: str  # ok, warn (healthy but worth saying), fail, skip (not applicable)
    message: str
    seconds: float = 0.0

    @property
    def healthy(self) -> bool:
        return self.status != FAIL


def check_process(settings: Settings) -> CheckResult:
    master = process.master_process(settings)
    if master is None:
        return CheckResult(
            "process", FAIL, f"no running Odoo master (pid file {process.pidfile(settings)})"
        )
    tree = process.TreeMonitor(settings).sample()
    return CheckResult(
        "process", OK, f"Odoo master pid {master.pid}, {tree.processes} processes in its tree"
    )


def check_http(settings: Settings) -> CheckResult:
    where = f"{web.odoo_host(settings)}:{settings.http_port}"
    result = web.web_health(settings, timeout=PROBE_TIMEOUT)
    if result.ok:
        return CheckResult("http", OK, f"/web/health on {where} answers pass")
    return CheckResult("http", FAIL, f"/web/health on {where}: {result.detail}")


def check_database(settings: Settings) -> CheckResult:
    """As Odoo sees it (db_server_status); asked directly when Odoo itself does not answer."""
    result = web.web_health(settings, db_status=True, timeout=PROBE_TIMEOUT)
    where = f"{settings.db_host}:{settings.db_port}"
    if result.ok:
        return CheckResult("database", OK, f"Odoo reaches PostgreSQL at {where}")
    if result.status is not None:
        return CheckResult("database", FAIL, f"Odoo cannot reach PostgreSQL at {where}")
    try:
        database.ping(settings)
    except SaasError as exc:
        return CheckResult("database", FAIL, str(exc).splitlines()[0])
    return CheckResult(
        "database", OK, f"PostgreSQL at {where} answers (asked directly: Odoo does not answer)"
    )


def check_database_directly(settings: Settings) -> CheckResult:
    """Roles without Odoo's HTTP server (cron, backup, metrics) ask PostgreSQL themselves."""
    where = f"{settings.db_host}:{settings.db_port}"
    try:
        database.ping(settings)
    except SaasError as exc:
        return CheckResult("database", FAIL, str(exc).splitlines()[0])
    return CheckResult("database", OK, f"PostgreSQL at {where} answers")


def check_programs(settings: Settings) -> CheckResult:
    """Roles without Odoo (backup, metrics): their main programs RUNNING under supervisord."""
    beside = Path(sys.executable).with_name("supervisorctl")
    ctl = str(beside) if beside.exists() else "supervisorctl"
    cmd = [ctl, "-c", str(settings.supervisord_conf), "status", *settings.main_programs]
    try:
        proc = execute.run(cmd, capture=True, timeout=PROBE_TIMEOUT, check=False)
    except CommandError as exc:  # not found, timed out
        return CheckResult("programs", FAIL, str(exc))
    except OSError as exc:
        return CheckResult("programs", FAIL, f"supervisorctl: {exc}")
    out, err = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    states = {}
    for line in out.splitlines():
        words = line.split()
        if len(words) >= 2:
            states[words[0]] = words[1]
    down = [p for p in settings.main_programs if states.get(p) != "RUNNING"]
    if down:
        said = out.strip() or err.strip() or f"exit {proc.returncode}"
        return CheckResult("programs", FAIL, f"not running: {', '.join(down)} ({said})")
    return CheckResult("programs", OK, f"{', '.join(settings.main_programs)} RUNNING")


def check_memory(settings: Settings, limit: int | None = None) -> CheckResult:
    """Odoo's tree against the container's memory limit (`limit` overrides it, for tests)."""
    tree = process.TreeMonitor(settings).sample()
    if not tree.running:
        return CheckResult("memory", SKIP, "Odoo is not running")
    limit = limit or resources.memory_limit()
    share = 100 * tree.rss_bytes / limit
    text = (
        f"Odoo uses {human_size(tree.rss_bytes)} of {human_size(limit)} ({share:.0f}%, "
        f"warning at {settings.memory_warn_percent}%)"
    )
    return CheckResult("memory", WARN if share >= settings.memory_warn_percent else OK, text)


def check_sessions(settings: Settings) -> CheckResult:
    ok, message = check_redis(settings, timeout=PROBE_TIMEOUT)
    return CheckResult("redis", OK if ok else FAIL, message)


def checks_for(settings: Settings) -> list[tuple[str, Callable[[Settings], CheckResult]]]:
    """What the role runs decides what is checked: the image's HEALTHCHECK serves every role."""
    if not settings.runs_odoo:
        return [("programs", check_programs), ("database", check_database_directly)]
    out: list[tuple[str, Callable[[Settings], CheckResult]]] = [("process", check_process)]
    if settings.http_enabled:
        out += [("http", check_http), ("database", check_database)]
    else:
        out.append(("database", check_database_directly))
    out.append(("memory", check_memory))
    if settings.enable_redis:
        out.append(("redis", check_sessions))
    return out


def run_checks(settings: Settings, budget: float = DEFAULT_BUDGET) -> list[CheckResult]:
    """Every check, in parallel; whatever has not answered when the budget ends has failed."""
    plan = checks_for(settings)
    results: dict[str, CheckResult] = {}
    lock = threading.Lock()

    def one(name: str, func: Callable[[Settings], CheckResult]) -> None:
        started = time.monotonic()
        try:
            result = func(settings)
        except Exception as exc:  # a check that crashes says so instead of hiding the others
            result = CheckResult(name, FAIL, f"check failed: {exc}")
        result.seconds = round(time.monotonic() - started, 3)
        with lock:
            results[name] = result

    deadline = time.monotonic() + budget
    threads = [
        threading.Thread(target=one, args=(name, func), name=f"health-{name}", daemon=True)
        for name, func in plan
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    with lock:
        return [
            results.get(name)
            or CheckResult(name, FAIL, f"no result within {budget:g} s", round(budget, 3))
            for name, _ in plan
        ]


def report(results: list[CheckResult]) -> dict:
    return {
        "healthy": all(r.healthy for r in results),
        "checks": [asdict(r) for r in results],
    }
