"""A command server whose command line is a probe instead of odoo-saas: run as a script, it
serves `tenant provision ACTION ...` with run() below, so tests see exactly what a fork gets
(arguments, directory, umask, environment, stdin) and how signals and endings travel back."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from odoo_saas_tools.core.logs import setup_logging
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.runtime import command_server

VERSION = "probe"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # as cli.main does on TERM


def run(argv: list[str]) -> int:
    action, rest = argv[2], argv[3:]
    if action == "echo":
        umask = os.umask(0)
        os.umask(umask)
        print(
            json.dumps(
                {
                    "argv": argv,
                    "cwd": os.getcwd(),
                    "umask": umask,
                    "probe_value": os.environ.get("PROBE_VALUE"),
                    "stdin": sys.stdin.read(),
                    "stdout_tty": sys.stdout.isatty(),
                    "pid": os.getpid(),
                }
            )
        )
        print("a line on stderr", file=sys.stderr)
        return int(rest[0])
    if action == "wait":  # until TERM; leaves a mark when it unwound
        signal.signal(signal.SIGTERM, _interrupt)
        try:  # the TERM may come while "waiting" is being written
            print("waiting", flush=True)
            time.sleep(60)
        except KeyboardInterrupt:
            Path(rest[0]).write_text("unwound")
            return 130
        return 0
    if action == "raise":
        raise RuntimeError("boom in the command")
    if action == "exit":
        sys.exit(int(rest[0]) if rest[0].isdigit() else rest[0])
    return 99


if __name__ == "__main__":
    setup_logging(program="signups")  # as `tenant serve` does
    command_server.serve(Settings.from_env(), run, VERSION)
