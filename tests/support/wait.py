"""The one way tests wait: poll a condition until it holds, never a fixed sleep.

A fixed sleep is either too short on a loaded machine (a flaky test) or too long everywhere
(a slow suite); a condition polled every `interval` returns as soon as it holds and says what it
waited for when it never does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    what: str | Callable[[], str] = "the condition",
    *,
    interval: float = 0.05,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """predicate's first truthy answer, polled every interval seconds for up to timeout.

    ignore: exceptions that mean "not yet" (a server still starting); any other propagates.
    what: named in the AssertionError on timeout; a callable is called only then (a log tail).
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = predicate()
        except ignore as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"waited {timeout} s for {detail}; last: {last!r}")
        time.sleep(interval)
