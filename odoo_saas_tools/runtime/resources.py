"""What the container really has: CPUs and memory from cgroup limits, and the worker formula."""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")
# Odoo's sizing guide: ~80% of requests are light (~150 MiB), ~20% heavy (~1 GiB).
MIB_PER_WORKER = int(0.8 * 150 + 0.2 * 1024)  # 324 MiB
MEMORY_SHARE = 0.8  # the rest is for the master, cron workers, gevent and the page cache


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_limit(root: Path = CGROUP) -> float:
    """CPUs this container may use: cgroup v2 cpu.max, v1 CFS quota, else the affinity mask."""
    cpus = float(len(os.sched_getaffinity(0)))
    v2 = _read(root / "cpu.max")
    if v2:
        quota, _, period = v2.partition(" ")
        if quota != "max" and period:
            cpus = min(cpus, int(quota) / int(period))
        return cpus
    quota = _read(root / "cpu" / "cpu.cfs_quota_us") or _read(root / "cpu.cfs_quota_us")
    period = _read(root / "cpu" / "cpu.cfs_period_us") or _read(root / "cpu.cfs_period_us")
    if quota and period and int(quota) > 0:
        cpus = min(cpus, int(quota) / int(period))
    return cpus


def memory_limit(root: Path = CGROUP) -> int:
    """Bytes this container may use: cgroup v2 memory.max, v1 limit, else physical memory."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for candidate in (
        root / "memory.max",
        root / "memory" / "memory.limit_in_bytes",
        root / "memory.limit_in_bytes",
    ):
        value = _read(candidate)
        if value and value != "max" and value.isdigit():
            return min(physical, int(value))
    return physical


def derive_workers(cpus: float, memory_bytes: int) -> int:
    """workers = min(2 x CPUs + 1, 80% of memory / 324 MiB), at least 1.

    2xCPU+1 is Odoo's own rule of thumb; the memory bound keeps a small container from being
    OOM-killed when several workers handle heavy requests at once.
    """
    by_cpu = 2 * max(1, math.floor(cpus)) + 1
    by_memory = int(memory_bytes * MEMORY_SHARE // (MIB_PER_WORKER * 1024**2))
    return max(1, min(by_cpu, by_memory))
