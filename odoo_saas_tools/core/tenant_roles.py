"""Every database odoo-saas keeps is served and read by a PostgreSQL role of its own.

A tenant's SQL objects (a restored backup's views, functions, triggers, rules) run with the
rights of whoever touches them. If every tenant were served by one shared role, a trigger
planted in one tenant would run with power over all of them: that role could end their
sessions (pg_terminate_backend), read their queries in pg_stat_activity, change its own
password or session defaults for everyone, and, owning their databases, rename or drop them.
So each database `db` gets the role `role_for(db)`: it owns the objects inside `db` and
nothing else, may connect to `db` only, and can create neither databases nor roles. Odoo and
odoo-saas log in as that role for everything inside `db`; the databases themselves belong to
the management role (ODOO_SAAS_DB_USER), which never runs SQL a tenant wrote.

The role's name and password are derived, so Odoo's processes (the odoo_saas_tenancy addon)
and every odoo-saas program compute the same login without asking anyone: the name from the
database's name, the password from ODOO_DB_PASSWORD by HMAC. PostgreSQL stores only a SCRAM
verifier computed here (never the password itself, so a statement log shows no secret).

Plain Python only: the Odoo addon loads this file by path where odoo_saas_tools is not
installed in Odoo's interpreter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# RESERVED_PREFIX + "t_" (core.reserved; not imported: see above)
ROLE_PREFIX = "odoo_saas_t_"
SCRAM_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)
_PASSWORD_LABEL = b"odoo-saas tenant role password\0"
_KEY_LABEL = b"odoo-saas tenant role key\0"


def role_for(dbname: str) -> str:
    """The role of database dbname: 52 bytes whatever the name's length (roles have 63)."""
    digest = hashlib.sha256(dbname.encode("utf-8")).hexdigest()
    return ROLE_PREFIX + digest[:40]


def is_tenant_role(name: str) -> bool:
    return name.startswith(ROLE_PREFIX) and len(name) == len(ROLE_PREFIX) + 40


def password_for(key: str, role: str) -> str:
    """The role's password: HMAC-SHA256 of its name keyed by ODOO_DB_PASSWORD (43 characters)."""
    mac = hmac.new(key.encode("utf-8"), _PASSWORD_LABEL + role.encode("utf-8"), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode("ascii").rstrip("=")


def key_fingerprint(key: str) -> str:
    """Which key the role passwords were derived from, safe to show (it reveals nothing of
    the key): kept in each role's comment, so a changed ODOO_DB_PASSWORD is noticed."""
    mac = hmac.new(key.encode("utf-8"), _KEY_LABEL, hashlib.sha256)
    return mac.hexdigest()[:16]


def scram_verifier(password: str, *, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for password (RFC 5802/7677), so that
    `ALTER ROLE ... PASSWORD '<verifier>'` never sends the password itself."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, SCRAM_ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
