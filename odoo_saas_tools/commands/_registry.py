"""How command modules become subcommands: one module (or package) per command word.

A module's name is its command word (`run_odoo` is `run-odoo`): that is what lets the CLI import
only the command named on the command line, so it is enforced when the module registers.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from types import ModuleType
from typing import Any

COMMANDS_PACKAGE = "odoo_saas_tools.commands"
# The command words on this command line (`db`, `clone`, ...): only their modules are imported,
# so a command does not pay for every other command's imports (boto3, redis, prometheus ...).
wanted_words: list[str] = []


def command_name(module_name: str) -> str:
    """Module run_odoo -> command `run-odoo`."""
    return module_name.replace("_", "-")


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
    wanted = wanted_words[depth] if depth < len(wanted_words) else None
    chosen = [i for i in infos if command_name(i.name) == wanted]
    for info in chosen or infos:
        module: ModuleType = importlib.import_module(f"{package}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            before = set(subparsers.choices)
            register(subparsers)
            added = set(subparsers.choices) - before
            if added != {command_name(info.name)}:
                raise RuntimeError(
                    f"{module.__name__} registers {sorted(added)}: a command module must register "
                    f"exactly the command named after it ({command_name(info.name)!r})"
                )


def add_command(
    subparsers: argparse._SubParsersAction, name: str, help: str, doc: str | None, **defaults: Any
) -> argparse.ArgumentParser:
    """A command's parser, the one way: its help line, its module's docstring as the description
    (printed as written: the docstrings are wrapped by hand) and its defaults (func=run,
    log_as, needs_settings). Defaults meant to override an argument's own default are set after
    adding it, with p.set_defaults."""
    p = subparsers.add_parser(
        name, help=help, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.set_defaults(**defaults)
    return p


def add_listen_options(p: argparse.ArgumentParser, bind_var: str, port_var: str) -> None:
    """--bind and --port of a server command; bind_var, port_var: the settings they override."""
    p.add_argument("--bind", help=f"address to listen on (default: {bind_var})")
    p.add_argument("--port", type=int, help=f"port to listen on (default: {port_var})")


def listen_address(args: argparse.Namespace, bind: str, port: int) -> tuple[str, int]:
    """--bind and --port where given, else the settings' bind and port."""
    return (
        args.bind if args.bind is not None else bind,
        args.port if args.port is not None else port,
    )


def register_group(
    subparsers: argparse._SubParsersAction, name: str, help: str, package: str, doc: str | None
) -> None:
    """A command group (`db`, `backup` ...) whose actions are the modules of its package."""
    p = subparsers.add_parser(name, help=help, description=doc)
    sub = p.add_subparsers(dest=f"{name}_command", metavar="ACTION")
    sub.required = True
    register_all(sub, package)
