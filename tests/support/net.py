"""Loopback helpers for tests: free ports and waiting for a listener."""

from __future__ import annotations

import os
import random
import socket

from tests.support.wait import wait_until

# Ports handed to servers tests start: below Linux's ephemeral range (32768-60999), so no
# outgoing connection takes one between the pick and the server's bind, and one block per
# pytest-xdist worker (gw0 the second, a run without workers the first), so two workers of a
# run never pick the same port. Each process starts at a random place in its block (two runs
# on one machine rarely meet) and skips ports something already holds.
PORTS_FROM = 20000
PORTS_PER_WORKER = 1000
_next: list[int] = []


def worker_index() -> int:
    """0 without pytest-xdist; 1 + N for its worker gwN."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) + 1 if worker.startswith("gw") else 0


def _can_bind(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port for a server a test starts: free now, and no other worker's."""
    if not _next:
        _next.append(random.randrange(PORTS_PER_WORKER))
    block = PORTS_FROM + (worker_index() % 12) * PORTS_PER_WORKER
    for _ in range(PORTS_PER_WORKER):
        port = block + _next[0]
        _next[0] = (_next[0] + 1) % PORTS_PER_WORKER
        if _can_bind(port):
            return port
    raise RuntimeError(f"no free port in {block}-{block + PORTS_PER_WORKER - 1}")


def listens(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    """Raises TimeoutError (callers catch it to show a server's log) if nothing listens."""
    try:
        wait_until(lambda: listens(port, host), timeout, f"a listener on {host}:{port}")
    except AssertionError as exc:
        raise TimeoutError(str(exc)) from None
