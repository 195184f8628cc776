"""With real Odoo: template cache, create, provisioning, clone, neutralization.

One template (base) is built per session (~15 s); every tenant is a copy of it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from odoo_saas_tools import odoo_runner
from odoo_saas_tools.postgres import connect
from odoo_saas_tools.settings import Settings
from tests.support.cli import run_cli

pytestmark = pytest.mark.usefixtures("odoo_template")


def odoo_login(settings: Settings, db: str, login: str, password: str) -> int | None:
    """Ask Odoo itself to authenticate (checks the hash we wrote)."""
    script = (
        "try:\n"
        f"    info = env['res.users'].authenticate({{'login': {login!r}, "
        f"'password': {password!r}, 'type': 'password'}}, {{'interactive': False}})\n"
        "    print('AUTH-UID', info['uid'])\n"
        "except Exception as exc:\n"
        "    print('AUTH-FAIL', type(exc).__name__)\n"
    )
    out = odoo_runner.shell(settings, db, script)
    for line in out.splitlines():
        if line.startswith("AUTH-UID"):
            return int(line.split()[1])
    return None


def params(settings: Settings, db: str) -> dict[str, str]:
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute("SELECT key, value FROM ir_config_parameter")
        return dict(cr.fetchall())


def test_create_from_warm_cache_is_fast_and_login_works(
    odoo_env: dict[str, str], dbname: Callable[[str], str], odoo_template: str
) -> None:
    settings = Settings.from_env(odoo_env)
    name = dbname("create")
    started = time.monotonic()
    proc = run_cli(odoo_env, "db", "create", name, "--json")
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["template"] == odoo_template and result["template_built"] is False
    assert result["filestore"] == "hardlink"
    assert elapsed < 8, f"create from a warm cache took {elapsed:.1f} s"
    password = result["admin_password"]
    assert len(password) >= 20
    tpl_params = params(settings, name)
    assert tpl_params["database.uuid"] == result["uuid"]
    assert odoo_login(settings, name, "admin", password) == 2
    assert odoo_login(settings, name, "admin", "admin") is None

    again = run_cli(odoo_env, "db", "create", name)
    assert again.returncode == 3 and "already exists" in again.stderr
