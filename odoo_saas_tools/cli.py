"""`odoo-saas`: one console command; every action is a subcommand module under commands/."""

from __future__ import annotations

import sys

from odoo_saas_tools import __version__
from odoo_saas_tools.runtime import command_client

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

# Nothing else is imported before the command server had its chance (runtime/command_client.py):
# argparse, logging and the command modules load only for a command that runs here.


def build_parser() -> argparse.ArgumentParser:
    import argparse

    from odoo_saas_tools.commands._registry import COMMANDS_PACKAGE, register_all

    parser = argparse.ArgumentParser(
        prog="odoo-saas",
        description="Run and operate a multi-tenant Odoo 19.0 stack. Settings come from the "
        "environment (see README); every subcommand has --help.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more log output (-vv shows every external command run)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only, no progress")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    register_all(sub, COMMANDS_PACKAGE)
    # `tenant serve` runs command lines in its forks as this function does
    parser.set_defaults(command_line=main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    served = command_client.run_by_server(args_in, __version__)
    if served is not None:
        return served
    return _run_here(args_in)


def _run_here(args_in: list[str]) -> int:
    import os
    import signal

    from odoo_saas_tools.commands._registry import wanted_words
    from odoo_saas_tools.core.errors import EXIT_INTERRUPTED, SaasError
    from odoo_saas_tools.core.logs import setup_logging

    wanted_words[:] = command_client.command_words(args_in)
    parser = build_parser()
    args = parser.parse_args(args_in)
    log_as = getattr(args, "log_as", None)  # a program's name, or a function of the args
    setup_logging(args.verbose, args.quiet, log_as(args) if callable(log_as) else log_as)
    # docker stop, supervisorctl stop, kill: unwind like Ctrl-C (scratch databases dropped, a
    # swap undone) instead of dying mid-step; programs with their own handlers replace this.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if getattr(args, "needs_settings", True):
            from odoo_saas_tools.core.settings import Settings

            return int(args.func(args, Settings.from_env()) or 0)
        return int(args.func(args) or 0)
    except SaasError as exc:
        for line in str(exc).splitlines() or ["failed"]:
            print(f"odoo-saas: error: {line}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # the reader (e.g. `| head`) went away: not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("odoo-saas: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # a full disk, a permission: one line, not a traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"odoo-saas: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1


def _interrupt(signum: int, _frame: object) -> None:
    """The first SIGTERM/SIGINT starts the unwind; further ones must not cut it short."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
