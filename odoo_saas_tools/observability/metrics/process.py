"""Odoo's process tree: the master named by its pid file and every descendant.

Memory and CPU are summed over the whole tree (HTTP and cron workers, the gevent process) because
that is what the container's memory limit and the hoster's bill count. The exporter and the health
check are never part of it: they are supervisord's children, not Odoo's.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)

PIDFILE_NAME = "odoo.pid"
PID_CLOCK_SLACK = 2.0  # seconds: create_time is rounded to clock ticks, mtime to the file system


def pidfile(settings: Settings) -> Path:
    """Where Odoo writes its master pid (`pidfile` in the rendered odoo.conf)."""
    return settings.runtime_dir / PIDFILE_NAME


def master_process(settings: Settings) -> psutil.Process | None:
    """Odoo's master process, or None when the pid file is missing, stale or unreadable.

    A pid file left behind by a crash may name a pid the kernel has since given to another
    process (even to this one): a process younger than the file cannot be the one that wrote it.
    """
    path = pidfile(settings)
    try:
        pid = int(path.read_text().strip())
        written = path.stat().st_mtime
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.debug("unreadable pid file %s: %s", path, exc)
        return None
    if pid <= 0 or pid == os.getpid():
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE or proc.create_time() > written + PID_CLOCK_SLACK:
            return None
        return proc
    except psutil.Error:
        return None


def worker_kind(proc: psutil.Process) -> str:
    """http, cron, gevent or worker (prefork workers are only told apart by their title).

    Odoo names its workers `odoo: WorkerHTTP <pid>` / `odoo: WorkerCron <pid> <db>` when
    setproctitle is installed; the gevent process is started with a `gevent` argument.
    """
    try:
        cmdline = proc.cmdline()
    except psutil.Error:
        return "worker"
    title = " ".join(cmdline)
    if "WorkerHTTP" in title:
        return "http"
    if "WorkerCron" in title:
        return "cron"
    if "gevent" in cmdline[1:]:
        return "gevent"
    return "worker"


@dataclass
class TreeSample:
    """One measurement of the tree; `running` False means no Odoo master was found."""

    running: bool = False
    master_pid: int | None = None
    rss_bytes: int = 0
    cpu_percent: float = 0.0
    processes: int = 0
    workers: dict[str, int] = field(default_factory=dict)


class TreeMonitor:
    """Samples the tree repeatedly; keeps psutil.Process objects so CPU% covers the interval.

    psutil measures CPU between two calls on the same Process object; a new object would always
    say 0.0, so processes are remembered by pid (and create time, pids get reused).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._known: dict[tuple[int, float], psutil.Process] = {}

    def _remember(self, proc: psutil.Process) -> psutil.Process:
        key = (proc.pid, proc.create_time())
        known = self._known.get(key)
        if known is None:
            known = self._known[key] = proc
            known.cpu_percent(None)  # primes the counter; the next sample is meaningful
        return known

    def sample(self) -> TreeSample:
        master = master_process(self.settings)
        if master is None:
            self._known.clear()
            return TreeSample()
        out = TreeSample(running=True, master_pid=master.pid)
        seen: set[tuple[int, float]] = set()
        try:
            members = [master, *master.children(recursive=True)]
        except psutil.Error:
            members = [master]
        for proc in members:
            try:
                proc = self._remember(proc)
                seen.add((proc.pid, proc.create_time()))
                with proc.oneshot():
                    out.rss_bytes += proc.memory_info().rss
                    out.cpu_percent += proc.cpu_percent(None)
                if proc.pid != master.pid:
                    kind = worker_kind(proc)
                    out.workers[kind] = out.workers.get(kind, 0) + 1
                out.processes += 1
            except psutil.Error:
                continue  # exited between listing and reading: not part of the tree any more
        for key in list(self._known):
            if key not in seen:
                del self._known[key]
        return out
