"""`odoo-saas run-odoo`: the supervisord program that runs Odoo.

Odoo gets only the environment it needs (odoo_environment) and its configuration from the
rendered odoo.conf. Every line it prints is prefixed with `[odoo]` so the container log says which
program spoke; signals are passed on one-to-one, so TERM is graceful, HUP reloads and TTIN/TTOU
add or remove workers as with a bare Odoo.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys

from odoo_saas_tools.commands.entrypoint import odoo_environment
from odoo_saas_tools.settings import Settings

FORWARDED = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGUSR1,
    signal.SIGUSR2,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run-odoo",
        help="(supervisord program) run Odoo with odoo.conf",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("extra", nargs=argparse.REMAINDER, help="extra arguments for Odoo")
    p.set_defaults(func=run, program_name="odoo")


def odoo_argv(s: Settings, extra: list[str]) -> list[str]:
    return [s.odoo_bin, "server", "-c", str(s.odoo_conf), *[a for a in extra if a != "--"]]


def run(args: argparse.Namespace, s: Settings) -> int:
    child = subprocess.Popen(
        odoo_argv(s, args.extra),
        env=odoo_environment(s),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )

    def forward(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    out = sys.stdout.buffer
    assert child.stdout is not None
    for line in iter(child.stdout.readline, b""):
        out.write(b"[odoo] " + line)
        out.flush()
    code = child.wait()
    return code if code >= 0 else 128 - code
