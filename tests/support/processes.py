"""Stopping a program a test started: the one way (SIGTERM, a wait, then SIGKILL)."""

from __future__ import annotations

import subprocess


def stop(proc: subprocess.Popen, wait: float = 10.0) -> None:
    """SIGTERM and up to `wait` seconds for it to end; then SIGKILL (and reaped). Nothing when
    it already ended."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
