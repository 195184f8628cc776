"""`odoo-saas hash-password`: the pbkdf2-sha512 hash of a master password, read from stdin.

What Odoo's containers need instead of the clear master password (ODOO_ADMIN_PASSWD accepts
it): Odoo verifies the password typed into the database manager against it, and a process that
can read the hash cannot log in with it. The password comes from stdin (its first line), never
from the command line; a hash given is printed unchanged.

    printf %s "$MASTER" | odoo-saas hash-password
"""

from __future__ import annotations

import argparse
import sys

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.passwords import hashed_form


def register(subparsers: argparse._SubParsersAction) -> None:
    add_command(
        subparsers,
        "hash-password",
        "print the pbkdf2-sha512 hash of the password on stdin (for ODOO_ADMIN_PASSWD)",
        __doc__,
        func=run,
        needs_settings=False,
    )


def run(args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise ConfigError("hash-password: no password on stdin")
    print(hashed_form(password))
    return 0
