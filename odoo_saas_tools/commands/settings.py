"""`odoo-saas settings`: the effective settings (secrets masked), or every variable documented."""

from __future__ import annotations

import argparse

from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings, documented_variables, markdown_table


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "settings", help="show the effective settings (secrets masked)", description=__doc__
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--markdown",
        action="store_true",
        help="print every variable with its default, as the README's table",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="also apply the start-up checks of the stack (exit 2 on errors)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.markdown:
        print(markdown_table())
        return 0
    if args.check:
        from odoo_saas_tools.core.errors import ConfigError

        problems = settings.server_problems()
        if problems:
            raise ConfigError("\n".join(problems))
    values = settings.public_dict()
    if args.json:
        print_json({"settings": values, "warnings": settings.warnings()})
        return 0
    docs = {row["name"]: row for row in documented_variables()}
    for name, value in values.items():
        shown = ",".join(value) if isinstance(value, list) else value
        marker = "" if str(shown) == docs[name]["default"] else "  (set)"
        print(f"{name}={shown}{marker}")
    for warning in settings.warnings():
        print(f"warning: {warning}")
    return 0
