"""A new tenant's admin account, company and locale, written with SQL (Odoo is not started).

What Odoo's `db init` does through the ORM (odoo/service/db.py `_initialize_db`) is a handful of
rows: the admin user's login and password hash, its partner's e-mail, language and time zone,
the main company's name, country and currency. Writing them directly saves Odoo's 3-10 s
start-up per tenant; the password is stored in the passlib form Odoo itself writes.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from pathlib import Path

import psycopg2.extensions

from odoo_saas_tools.core.errors import ConfigError, SaasError

ZONE_TABLES = (Path("/usr/share/zoneinfo/zone.tab"),)  # the table pytz's country_timezones reads


@dataclass
class Setup:
    """What to write; None leaves the template's value."""

    admin_login: str = "admin"
    admin_password: str | None = None  # None: generate one
    admin_email: str | None = None
    company_name: str | None = None
    lang: str | None = None
    country: str | None = None  # ISO code, e.g. BE
    tz: str | None = None


def generate_password() -> str:
    """A strong password a human can still copy (24 URL-safe characters, 144 bits)."""
    return secrets.token_urlsafe(18)


def read_password_file(path: Path) -> str:
    try:
        text = path.read_text().strip("\r\n")
    except OSError as exc:
        raise ConfigError(f"cannot read the admin password file {path}: {exc.strerror}") from exc
    if not text or "\n" in text:
        raise ConfigError(f"{path} must contain the admin password on one line")
    return text


def check_tz(tz: str) -> str:
    import zoneinfo  # only when --tz is given (start-up cost of every provisioning)

    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"--tz {tz!r} is not a known time zone (e.g. Europe/Brussels)") from None
    return tz


def country_timezone(code: str) -> str | None:
    """The country's time zone when it has exactly one (what Odoo's db init applies)."""
    zones = []
    for table in ZONE_TABLES:
        with contextlib.suppress(OSError):
            for line in table.read_text().splitlines():
                parts = line.split("\t")
                if len(parts) >= 3 and not line.startswith("#") and parts[0] == code.upper():
                    zones.append(parts[2])
    return zones[0] if len(zones) == 1 else None


def _xmlid(cr: psycopg2.extensions.cursor, name: str) -> int:
    cr.execute("SELECT res_id FROM ir_model_data WHERE module = 'base' AND name = %s", (name,))
    row = cr.fetchone()
    if row is None:
        raise SaasError(f"base.{name} is missing: not an Odoo database made by base")
    return int(row[0])


def set_admin_password(cr: psycopg2.extensions.cursor, password_hash: str) -> None:
    """Only the admin's password (a spare tenant gets its generated one ahead of time)."""
    admin = _xmlid(cr, "user_admin")
    cr.execute("UPDATE res_users SET password = %s WHERE id = %s", (password_hash, admin))


def write(cr: psycopg2.extensions.cursor, setup: Setup, password_hash: str) -> None:
    """setup, on the caller's transaction (which may also write the tenant's identity)."""
    admin = _xmlid(cr, "user_admin")
    company = _xmlid(cr, "main_company")
    cr.execute("SELECT partner_id FROM res_users WHERE id = %s", (admin,))
    admin_partner = cr.fetchone()[0]
    cr.execute("SELECT partner_id FROM res_company WHERE id = %s", (company,))
    company_partner = cr.fetchone()[0]

    cr.execute("SELECT 1 FROM res_users WHERE login = %s AND id <> %s", (setup.admin_login, admin))
    if cr.fetchone():
        raise ConfigError(f"login {setup.admin_login!r} is already taken by another user")
    cr.execute(
        "UPDATE res_users SET login = %s, password = %s, write_date = now() AT TIME ZONE 'UTC' "
        "WHERE id = %s",
        (setup.admin_login, password_hash, admin),
    )
    email = setup.admin_email or (setup.admin_login if "@" in setup.admin_login else None)
    if email:
        cr.execute("UPDATE res_partner SET email = %s WHERE id = %s", (email, admin_partner))
        if "@" in setup.admin_login:  # as Odoo's db init: the login e-mail is the company's
            cr.execute("UPDATE res_company SET email = %s WHERE id = %s", (email, company))
            cr.execute("UPDATE res_partner SET email = %s WHERE id = %s", (email, company_partner))
    if setup.lang:
        cr.execute("SELECT 1 FROM res_lang WHERE code = %s AND active", (setup.lang,))
        if cr.fetchone() is None:
            raise ConfigError(f"language {setup.lang!r} is not installed in the database")
        cr.execute("UPDATE res_partner SET lang = %s WHERE id = %s", (setup.lang, admin_partner))
    if setup.company_name:
        cr.execute("UPDATE res_company SET name = %s WHERE id = %s", (setup.company_name, company))
        cr.execute(
            "UPDATE res_partner SET name = %s, complete_name = %s, commercial_company_name = %s "
            "WHERE id = %s",
            (setup.company_name, setup.company_name, setup.company_name, company_partner),
        )
    tz = setup.tz
    if setup.country:
        cr.execute(
            "SELECT id, currency_id FROM res_country WHERE code = %s", (setup.country.upper(),)
        )
        row = cr.fetchone()
        if row is None:
            raise ConfigError(f"--country {setup.country!r} is not an ISO country code Odoo knows")
        country_id, currency_id = row
        cr.execute(
            "UPDATE res_partner SET country_id = %s WHERE id = %s", (country_id, company_partner)
        )
        if currency_id:  # as res.company.write: the currency becomes active
            cr.execute("UPDATE res_currency SET active = true WHERE id = %s", (currency_id,))
            cr.execute(
                "UPDATE res_company SET currency_id = %s WHERE id = %s", (currency_id, company)
            )
        tz = tz or country_timezone(setup.country)
    if tz:
        cr.execute("UPDATE res_partner SET tz = %s WHERE id = %s", (check_tz(tz), admin_partner))
