"""Running the Odoo executable for one-off jobs (install, upgrade, shell, neutralize, db ...).

Odoo always gets the clean environment and the rendered odoo.conf, so the container's variables
cannot override it; server jobs never bind HTTP, never run crons and never touch the pid file of
the running server.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

from odoo_saas_tools.core import execute
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo.environment import odoo_environment
from odoo_saas_tools.runtime import render

log = logging.getLogger(__name__)

# Flags that turn `odoo server` into a batch job beside a running server.
# An installation probe starts no database; longer than this means Odoo hangs.
PROBE_TIMEOUT = 120
JOB_FLAGS = ("--no-http", "--stop-after-init", "--max-cron-threads=0", "--workers=0", "--pidfile=")


def config_path(settings: Settings) -> Path:
    """The rendered odoo.conf; rendered now if the stack has not done it (outside Docker)."""
    if not settings.odoo_conf.is_file():
        render.render_all(settings)
    return settings.odoo_conf


def run(
    settings: Settings,
    args: Sequence[str],
    *,
    input: bytes | None = None,
    timeout: float | None = None,
    check: bool = True,
    login: tuple[str, str] | None = None,
) -> execute.Completed[bytes]:
    """`odoo <args>` with our configuration; output captured, CommandError on failure (check).
    login: the role Odoo's own commands log in as (Settings.login_for; environment.py)."""
    return execute.run(
        [settings.odoo_bin, *args],
        env=odoo_environment(settings, login=login),
        clean_env=True,
        secrets=settings.secret_values(),
        input=input,
        capture=True,
        timeout=timeout,
        check=check,
    )


def server_job(
    settings: Settings,
    db: str,
    extra: Sequence[str] = (),
    *,
    input: bytes | None = None,
    timeout: float | None = None,
    check: bool = True,
) -> execute.Completed[bytes]:
    """`odoo server -d db --stop-after-init ...` as a batch job (e.g. `-i base`, `-u mod`).

    A database that does not exist yet is made first, as Odoo would make it: Odoo's own role
    may not create databases, and Odoo logs in to this one as its role (postgres/roles.py)."""
    from odoo_saas_tools.postgres import databases  # only for a job (start-up cost of others)

    if not databases.exists(settings, db):
        databases.create_empty(settings, db)
    args = ["server", "-c", str(config_path(settings)), "-d", db, *JOB_FLAGS, *extra]
    return run(settings, args, input=input, timeout=timeout, check=check)


def probe_shell(settings: Settings, script: str, *, timeout: float = PROBE_TIMEOUT) -> str:
    """Run script in `odoo shell` for questions about the Odoo installation itself (its addons
    path, its Python's packages); returns stdout.

    The configuration holds only the addons path and data dir: no database is opened (the shell
    then runs without a registry, whatever ODOO_DB_NAME says), no pid file, no HTTP.
    """
    with tempfile.TemporaryDirectory(prefix="odoo-saas-probe-") as tmp:
        conf = Path(tmp) / "probe.conf"
        conf.write_text(
            "[options]\n"
            f"addons_path = {','.join(render.plan(settings).addons_path)}\n"
            f"data_dir = {settings.data_dir}\n"
            "log_level = warn\n"
        )
        proc = execute.run(
            [settings.odoo_bin, "shell", "-c", str(conf), "--no-http", "--pidfile="],
            env=odoo_environment(settings),
            clean_env=True,
            secrets=settings.secret_values(),
            input=script.encode(),
            capture=True,
            cwd=tmp,
            timeout=timeout,
        )
    return proc.stdout.decode(errors="replace")


def read_marker(output: str, marker: str) -> dict | None:
    """The JSON a probe script printed after marker (Odoo's own log lines surround it)."""
    for line in output.splitlines():
        if line.startswith(marker):
            return json.loads(line[len(marker) :])
    return None


def shell(settings: Settings, db: str, script: str, *, timeout: float | None = None) -> str:
    """Run a Python script in `odoo shell` (env available; commit explicitly); returns stdout."""
    args = [
        "shell",
        "-c",
        str(config_path(settings)),
        "-d",
        db,
        "--no-http",
        "--max-cron-threads=0",
        "--workers=0",
        "--pidfile=",
    ]
    proc = run(settings, args, input=script.encode(), timeout=timeout)
    return proc.stdout.decode(errors="replace")
