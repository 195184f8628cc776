"""`odoo-saas tenant serve`: the command server, running `tenant provision` calls in a process
that is already warm (runtime/command_server.py).

Supervisord runs it as the `signups` program beside `spares` (PROVISION_SPARES > 0). A fresh
`odoo-saas` spends 0.2 s of CPU starting Python and importing what a signup needs, more than
ten times the signup itself when a spare is ready. While this runs, `odoo-saas tenant
provision` hands its command line, environment and terminal to it and the command runs in a
fork of this process: same output, exit code and settings, and Ctrl-C still stops it. Calls
of another user, or for another runtime directory, run in their own process as before.

It listens on $ODOO_SAAS_RUNTIME_DIR/commands.sock (0600); each command served leaves one line
in this program's log. Stop it with TERM; commands already running finish.
Exit codes: 0 stopped, 1 failed (e.g. another server holds the socket).
"""

from __future__ import annotations

import argparse

from odoo_saas_tools import __version__
from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.commands.tenant import provision
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.runtime import command_server

WARM = (provision,)  # imported here, so that each fork starts with them loaded


def register(subparsers: argparse._SubParsersAction) -> None:
    add_command(
        subparsers,
        "serve",
        "the command server: tenant provision calls in a warm process (program signups)",
        __doc__,
        func=run,
        log_as=command_server.PROGRAM,
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    command_server.serve(settings, args.command_line, __version__)
    return 0
