"""The addon as shipped: a valid Odoo 19 manifest where the rendered addons_path points."""

from __future__ import annotations

import ast
import configparser

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.runtime import render
from tests.support.redis import REDIS_PASSWORD

ADDON = render.BUNDLED_ADDONS / render.SESSION_REDIS_MODULE


def test_manifest() -> None:
    manifest = ast.literal_eval((ADDON / "__manifest__.py").read_text())
    assert manifest["version"] == "19.0.1.0.0"
    assert manifest["license"] == "LGPL-3"
    assert manifest["installable"] is True and manifest["auto_install"] is False
    assert manifest["post_load"] == "post_load"
    assert "def post_load(" in (ADDON / "__init__.py").read_text()
    # The Redis logic the addon wraps is in the package, where the addon finds it by path.
    assert (ADDON.parents[1] / "sessions" / "store.py").is_file()


def test_rendered_conf_loads_the_addon(saas_env: dict[str, str]) -> None:
    s = Settings.from_env(
        {
            **saas_env,
            "ODOO_ENABLE_REDIS": "true",
            "ODOO_REDIS_HOST": "cache.internal",
            "ODOO_REDIS_PASSWORD": REDIS_PASSWORD,
            "ODOO_REDIS_PREFIX": "stack1:",
        }
    )
    render.render_all(s)
    conf = configparser.RawConfigParser()
    conf.read(s.odoo_conf)
    assert str(render.BUNDLED_ADDONS) in conf.get("options", "addons_path").split(",")
    modules = conf.get("options", "server_wide_modules").split(",")
    assert modules == ["base", "rpc", "web", "odoo_saas_tenancy", "odoo_saas_session_redis"]
    assert conf.get("session_redis", "url") == (f"redis://:{REDIS_PASSWORD}@cache.internal:6379/0")
    assert conf.get("session_redis", "prefix") == "stack1:"
    assert s.odoo_conf.stat().st_mode & 0o077 == 0  # the URL carries the password
