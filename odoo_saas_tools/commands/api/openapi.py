"""`odoo-saas api openapi`: the control API's OpenAPI document, as /openapi.json serves it.

`odoo-saas api openapi > docs/api/openapi.json` regenerates the copy kept in the repository (a
test checks the two are the same).
"""

from __future__ import annotations

import argparse
import json
import sys

from odoo_saas_tools.commands._registry import add_command


def register(subparsers: argparse._SubParsersAction) -> None:
    add_command(
        subparsers,
        "openapi",
        "print the control API's OpenAPI document",
        __doc__,
        func=run,
        needs_settings=False,
    )


def run(args: argparse.Namespace) -> int:
    from odoo_saas_tools.api.app import create_app, document
    from odoo_saas_tools.core.settings import Settings

    app = create_app(Settings()).fastapi
    json.dump(document(app), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0
