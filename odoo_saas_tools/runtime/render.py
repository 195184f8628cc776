"""Render odoo.conf and supervisord.conf from the Jinja templates, atomically and privately."""

from __future__ import annotations

import json
import logging
import os
import pwd
import secrets
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from odoo_saas_tools.core.files import atomic_write
from odoo_saas_tools.core.passwords import hashed_form
from odoo_saas_tools.core.reserved import RESERVED_PREFIX
from odoo_saas_tools.core.settings import CATALOG_DATABASE, Settings
from odoo_saas_tools.runtime import resources

if TYPE_CHECKING:
    import jinja2

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parents[1]
# Odoo 19's default server-wide modules and the tenant roles' (always: without it Odoo could
# not log in to a tenant); the Redis session store joins them when enabled.
SERVER_WIDE_MODULES = ("base", "rpc", "web", "odoo_saas_tenancy")
SESSION_REDIS_MODULE = "odoo_saas_session_redis"
BUNDLED_ADDONS = PACKAGE_DIR / "odoo_addons"


def template_dir() -> Path:
    """Templates ship inside the wheel; in a source checkout they sit at the top level."""
    for candidate in (PACKAGE_DIR / "templates", PACKAGE_DIR.parent):
        if (candidate / "odoo.conf.j2").is_file():
            return candidate
    raise FileNotFoundError("odoo.conf.j2 not found next to the odoo_saas_tools package")


def odoo_bool(value: bool) -> str:
    return "True" if value else "False"


def self_command() -> str:
    """How supervisord starts our own programs: this interpreter, so the venv is kept."""
    return f"{shlex.quote(sys.executable)} -m odoo_saas_tools"


def redis_url(settings: Settings) -> str:
    if settings.redis_url:
        return settings.redis_url
    auth = f":{quote(settings.redis_password, safe='')}@" if settings.redis_password else ""
    return f"redis://{auth}{settings.redis_host}:{settings.redis_port}/{settings.redis_dbindex}"


@dataclass(frozen=True)
class RenderPlan:
    """Values computed once from settings and the machine, shared by both templates."""

    workers: int
    addons_path: list[str]
    server_wide_modules: list[str]
    skipped_addons: list[str]
    dbfilter: str | None


def odoo_dbfilter(settings: Settings) -> str | None:
    """ODOO_DB_FILTER, never matching odoo-saas's hidden databases (spare tenants, restores
    in progress, replaced tenants): Odoo would list them in its database selector and serve
    them. With ODOO_DB_NAME and no filter, Odoo serves only those names (a dbfilter would
    override that)."""
    hidden = f"(?!{RESERVED_PREFIX})"
    if settings.db_filter:
        return f"{hidden}(?:{settings.db_filter})"
    return None if settings.db_name else f"^{hidden}"


def plan(settings: Settings) -> RenderPlan:
    workers = settings.workers
    if workers is None:
        workers = resources.derive_workers(resources.cpu_limit(), resources.memory_limit())
    addons: list[str] = [str(BUNDLED_ADDONS)]
    skipped: list[str] = []
    for path in settings.extra_addons:
        if not path.is_dir():
            skipped.append(str(path))
        elif not is_empty_dir(path):
            addons.append(str(path))
        # An empty directory (the image's /mnt/extra-addons with nothing mounted, the compose
        # stacks' empty ./addons) is left off quietly: Odoo would warn about it in every process.
    modules = list(SERVER_WIDE_MODULES)
    if settings.enable_redis:
        modules.append(SESSION_REDIS_MODULE)
    return RenderPlan(workers, addons, modules, skipped, odoo_dbfilter(settings))


def is_empty_dir(path: Path) -> bool:
    """Nothing but hidden entries (a .gitkeep); unreadable counts as not empty (Odoo will say)."""
    try:
        return all(entry.name.startswith(".") for entry in path.iterdir())
    except OSError:
        return False


def _environment() -> jinja2.Environment:
    import jinja2  # only where templates are rendered: a signup's start-up is 20 % faster

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 - INI files, not HTML
    )
    env.filters["odoo_bool"] = odoo_bool
    # a value of any text on one line of an INI file (the tenancy addon json-decodes it)
    env.filters["ini_json"] = lambda value: json.dumps(value, ensure_ascii=True)
    return env


def render_text(settings: Settings, name: str, p: RenderPlan, **extra: Any) -> str:
    context = {
        "s": settings,
        "workers": p.workers,
        "addons_path": p.addons_path,
        "server_wide_modules": p.server_wide_modules,
        "dbfilter": p.dbfilter,
        "odoo_saas": self_command(),
        "redis_url": redis_url(settings) if settings.enable_redis else "",
        "catalog": CATALOG_DATABASE,
        **extra,
    }
    return _environment().get_template(name).render(**context)


def write_private(path: Path, text: str, *, uid: int | None = None, gid: int | None = None) -> None:
    """Write text to path atomically (rename), mode 0600 from the first byte."""
    atomic_write(path, text, mode=0o600, uid=uid, gid=gid)


def render_all(settings: Settings, *, uid: int | None = None, gid: int | None = None) -> RenderPlan:
    """Render odoo.conf and supervisord.conf into the runtime directory."""
    p = plan(settings)
    for skipped in p.skipped_addons:
        log.warning("ODOO_EXTRA_ADDONS: %s is not a directory; left off the addons path", skipped)
    admin = hashed_form(settings.admin_passwd)
    settings.runtime_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.runtime_dir, 0o700)
    write_private(
        settings.odoo_conf,
        render_text(settings, "odoo.conf.j2", p, admin_passwd_hash=admin),
        uid=uid,
        gid=gid,
    )
    run_as = ""
    if os.geteuid() == 0:
        run_as = pwd.getpwuid(uid).pw_name if uid is not None else "root"
    supervisord = render_text(
        settings,
        "supervisord.conf.j2",
        p,
        supervisor_password=secrets.token_urlsafe(24),
        run_as=run_as,
    )
    write_private(settings.supervisord_conf, supervisord, uid=uid, gid=gid)
    return p
