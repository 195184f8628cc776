"""Passlib-compatible pbkdf2-sha512 hashes, computed without passlib or Odoo.

Odoo verifies admin_passwd and res_users.password in passlib's modular-crypt form
`$pbkdf2-sha512$<rounds>$<salt>$<checksum>` with passlib's "adapted base64" (`.` for `+`, no
padding); writing that form keeps the plaintext master password out of odoo.conf.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

ROUNDS = 600_000  # what Odoo 19 uses
PREFIX = "$pbkdf2-sha512$"


def _ab64_encode(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=").replace("+", ".")


def _ab64_decode(text: str) -> bytes:
    text = text.replace(".", "+")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, rounds: int = ROUNDS, salt: bytes | None = None) -> str:
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, rounds)
    return f"{PREFIX}{rounds}${_ab64_encode(salt)}${_ab64_encode(digest)}"


def is_hashed(value: str) -> bool:
    return value.startswith(PREFIX) and value.count("$") == 4


def hashed_form(password: str) -> str:
    """password as odoo.conf's admin_passwd keeps it: hashed, unless it is a hash already or
    empty (how Odoo forbids the database manager outright)."""
    return password if not password or is_hashed(password) else hash_password(password)


def verify_password(password: str, hashed: str) -> bool:
    if not password or not is_hashed(hashed):
        return False
    _, _, rounds, salt, checksum = hashed.split("$")
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), _ab64_decode(salt), int(rounds))
    return hmac.compare_digest(digest, _ab64_decode(checksum))
