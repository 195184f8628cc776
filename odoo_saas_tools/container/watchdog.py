"""supervisor event listener: a FATAL program ends supervisord (and so the container)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Collection
from pathlib import Path
from typing import TextIO


def parse_tokens(line: str) -> dict[str, str]:
    return dict(token.split(":", 1) for token in line.split() if ":" in token)


def listen(
    programs: Collection[str], marker: Path, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout
) -> int:
    """The supervisor eventlistener protocol until supervisord closes our stdin."""
    while True:
        stdout.write("READY\n")
        stdout.flush()
        header_line = stdin.readline()
        if not header_line:
            return 0
        header = parse_tokens(header_line)
        payload = parse_tokens(stdin.read(int(header.get("len", "0"))))
        if (
            header.get("eventname") == "PROCESS_STATE_FATAL"
            and payload.get("processname") in programs
        ):
            marker.write_text(payload["processname"] + "\n")
            print(
                f"[watchdog] {payload['processname']} is FATAL: stopping supervisord",
                file=sys.stderr,
                flush=True,
            )
            os.kill(os.getppid(), signal.SIGTERM)
        stdout.write("RESULT 2\nOK")
        stdout.flush()
