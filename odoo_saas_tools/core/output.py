"""Machine-readable output and terminal-only progress."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO, TypeVar

from odoo_saas_tools.core.errors import EXIT_UNCHANGED, SaasError

Row = TypeVar("Row")


def print_json(data: Any, stream: TextIO | None = None) -> None:
    """One JSON document on stdout, for scripts."""
    json.dump(data, stream or sys.stdout, indent=2, sort_keys=True, default=str)
    (stream or sys.stdout).write("\n")


def print_change(result: Any, as_json: bool, *, unchanged: str | None, done: str) -> int:
    """What a command that changes something prints, the one way: the result as JSON (also
    when nothing changed: a script reads it before the exit code), then `unchanged` as the
    error of exit 3 when nothing changed, else `done` on a terminal. Returns 0."""
    if as_json:
        print_json(result)
        sys.stdout.flush()
    if unchanged is not None:
        raise SaasError(unchanged, EXIT_UNCHANGED)
    if not as_json:
        print(done)
    return 0


def print_listing(
    rows: Sequence[Row],
    as_json: bool,
    *,
    empty: str,
    line: Callable[[Row], str],
    data: Any = None,
) -> int:
    """What a list command prints, the one way: one JSON document (data, else the rows) for
    scripts; else a line per row, or `empty` when there is none. Returns the exit code, 0."""
    if as_json:
        print_json(rows if data is None else data)
    elif not rows:
        print(empty)
    else:
        for row in rows:
            print(line(row))
    return 0


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


class Progress:
    """A one-line progress display on a terminal; silent in cron, pipes and with --quiet/--json."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label = label
        self.total = total
        self.done = 0
        self._last = 0.0

    def advance(self, amount: int = 1, note: str = "") -> None:
        self.done += amount
        now = time.monotonic()
        if not self.enabled or now - self._last < 0.1:
            return
        self._last = now
        if self.total:
            pct = 100 * self.done / self.total
            text = f"{self.label}: {pct:5.1f}%"
        else:
            text = f"{self.label}: {self.done}"
        self.stream.write(f"\r{text} {note}"[:120].ljust(60))
        self.stream.flush()

    def finish(self, note: str = "done") -> None:
        if self.enabled:
            self.stream.write(f"\r{self.label}: {note}".ljust(60) + "\n")
            self.stream.flush()
