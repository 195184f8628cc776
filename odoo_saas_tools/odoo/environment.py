"""The environment every Odoo process gets, and nothing more.

Odoo 19 reads ODOO_* and PG* variables over its configuration file, so the container's variables
(secrets included) would silently override the rendered odoo.conf: Odoo starts from a clean slate.
"""

from __future__ import annotations

import os

from odoo_saas_tools.core.settings import Settings


def odoo_environment(s: Settings, home: str | None = None) -> dict[str, str]:
    """PATH, locale, HOME, ODOO_RC and the auto-installed dependencies' PYTHONPATH."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": home or os.environ.get("HOME", "/"),
        "ODOO_RC": str(s.odoo_conf),
        "PYTHONUNBUFFERED": "1",
    }
    if s.deps_dir.is_dir():
        env["PYTHONPATH"] = str(s.deps_dir)
    return env
