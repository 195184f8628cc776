"""`odoo-saas`: one console command; every action is a subcommand module under commands/."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from odoo_saas_tools import __version__
from odoo_saas_tools.errors import EXIT_INTERRUPTED, SaasError
from odoo_saas_tools.logs import setup_logging

log = logging.getLogger("odoo_saas_tools")


COMMANDS_PACKAGE = "odoo_saas_tools.commands"
# The command words on this command line (`db`, `clone`, ...): only their modules are imported,
# so a command does not pay for every other command's imports (boto3, redis, prometheus ...).
_wanted: list[str] = []


def command_name(module_name: str) -> str:
    """Module settings_cmd -> command `settings`, run_odoo -> `run-odoo`."""
    return module_name.removesuffix("_cmd").replace("_", "-")


def register_all(subparsers: argparse._SubParsersAction, package: str) -> None:
    """Let the modules of `package` that have register() add their subcommand(s), by name order.

    When the command line names one of them, only that one is imported; otherwise (help, a typo)
    all are, so argparse can list every choice.
    """
    pkg = importlib.import_module(package)
    infos = sorted(
        (i for i in pkgutil.iter_modules(pkg.__path__) if not i.name.startswith("_")),
        key=lambda i: i.name,
    )
    depth = package.count(".") - COMMANDS_PACKAGE.count(".")
    wanted = _wanted[depth] if depth < len(_wanted) else None
    chosen = [i for i in infos if command_name(i.name) == wanted]
    for info in chosen or infos:
        module: ModuleType = importlib.import_module(f"{package}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)


def register_group(
    subparsers: argparse._SubParsersAction, name: str, help: str, package: str, doc: str | None
) -> None:
    """A command group (`db`, `backup` ...) whose actions are the modules of its package."""
    p = subparsers.add_parser(name, help=help, description=doc)
    sub = p.add_subparsers(dest=f"{name}_command", metavar="ACTION")
    sub.required = True
    register_all(sub, package)


def build_parser() -> argparse.ArgumentParser:
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    # Command words come first; no option of the top-level or group parsers takes a value.
    _wanted[:] = [a for a in args_in if not a.startswith("-")][:2]
    parser = build_parser()
    args = parser.parse_args(args_in)
    setup_logging(args.verbose, args.quiet, getattr(args, "program_name", None))
    try:
        if getattr(args, "needs_settings", True):
            from odoo_saas_tools.settings import Settings

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


if __name__ == "__main__":
    sys.exit(main())
