"""The environment every Odoo process gets, and nothing more.

Odoo 19 reads ODOO_* and PG* variables over its configuration file, so the container's variables
(secrets included) would silently override the rendered odoo.conf: Odoo starts from a clean slate.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from odoo_saas_tools.core.settings import Settings


def odoo_environment(
    settings: Settings, home: str | None = None, *, login: tuple[str, str] | None = None
) -> dict[str, str]:
    """PATH, locale, HOME, ODOO_RC and the auto-installed dependencies' PYTHONPATH.

    login: (role, password) one of Odoo's own commands runs as (`odoo db dump`, `odoo
    neutralize` load no server-wide module, so they log in as odoo.conf's role unless told):
    Odoo reads PGUSER and PGPASSWORD over its configuration file."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": home or os.environ.get("HOME", "/"),
        "ODOO_RC": str(settings.odoo_conf),
        "PYTHONUNBUFFERED": "1",
    }
    if trusted_dir(settings.deps_dir):
        env["PYTHONPATH"] = str(settings.deps_dir)
    if login is not None:
        env["PGUSER"], env["PGPASSWORD"] = login
    return env


def trusted_dir(path: Path) -> bool:
    """Whether code in path may be imported by this process: only we or root can write it.
    Root running a probe (docker exec) must never import a `json.py` the runtime user
    planted in ODOO_DEPS_DIR."""
    try:
        st = path.stat()
    except OSError:
        return False
    return (
        stat.S_ISDIR(st.st_mode)
        and st.st_uid in (os.geteuid(), 0)
        and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )
