"""Odoo as a supervisord program: clean environment, `[odoo]`-prefixed lines, signals 1:1.

Signals are passed on one-to-one (supervisord's stopasgroup stays off: a second TERM would make
Odoo stop hard), so TERM is graceful, HUP reloads and TTIN/TTOU add or remove workers as with a
bare Odoo.
"""

from __future__ import annotations

import signal
import sys

from odoo_saas_tools.core import execute
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo.environment import odoo_environment

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


def odoo_argv(settings: Settings, extra: list[str]) -> list[str]:
    return [
        settings.odoo_bin,
        "server",
        "-c",
        str(settings.odoo_conf),
        *[a for a in extra if a != "--"],
    ]


def run_odoo(settings: Settings, extra: list[str]) -> int:
    """Odoo's exit status (128+N for a signal), after every line it printed was relayed."""
    child = execute.popen(
        odoo_argv(settings, extra),
        env=odoo_environment(settings),
        clean_env=True,
        stdin=execute.DEVNULL,
        stdout=execute.PIPE,
        stderr="stdout",
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
