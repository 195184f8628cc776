"""`odoo-saas watchdog`: supervisor event listener that ends supervisord when a program is FATAL."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "watchdog", help="(internal) supervisor event listener", description=__doc__
    )
    p.add_argument(
        "--program",
        action="append",
        required=True,
        help="program whose FATAL state stops supervisord (repeatable)",
    )
    p.add_argument(
        "--marker",
        type=Path,
        required=True,
        help="file written with the program's name before stopping supervisord",
    )
    p.set_defaults(func=run, needs_settings=False)


def parse_tokens(line: str) -> dict[str, str]:
    return dict(token.split(":", 1) for token in line.split() if ":" in token)


def run(args: argparse.Namespace) -> int:
    stdin, stdout = sys.stdin, sys.stdout
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
            and payload.get("processname") in args.program
        ):
            args.marker.write_text(payload["processname"] + "\n")
            print(
                f"[watchdog] {payload['processname']} is FATAL: stopping supervisord",
                file=sys.stderr,
                flush=True,
            )
            os.kill(os.getppid(), signal.SIGTERM)
        stdout.write("RESULT 2\nOK")
        stdout.flush()
