"""The container's start: validate, hand over directories, render, drop root, check, supervise.

With a command (`docker run IMAGE odoo --version`), the configuration is rendered and that
command runs instead of the stack; Odoo commands get Odoo's clean environment.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.passwords import is_hashed
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo.environment import odoo_environment
from odoo_saas_tools.postgres.connection import wait_for_postgres
from odoo_saas_tools.preflight import before_start
from odoo_saas_tools.runtime import privileges, render

log = logging.getLogger(__name__)


def is_odoo_command(cmd: list[str], settings: Settings) -> bool:
    name = Path(cmd[0]).name
    return name in ("odoo", "odoo-bin", Path(settings.odoo_bin).name)


def clear_in_environment(settings: Settings) -> bool:
    """The clear master password came from the container's environment: every process
    `docker exec` or a health check starts as Odoo's user carries it (not the stack's programs,
    whose environment is cleaned)."""
    password = settings.admin_passwd
    return (
        settings.runs_odoo
        and bool(password)
        and not is_hashed(password)
        and "ODOO_ADMIN_PASSWD" not in settings.secret_files
    )


def start(settings: Settings, cmd: list[str], *, wait: bool = True) -> None:
    """Never returns: execs the command or supervisord (errors raise before anything runs)."""
    # A one-off command starts no server: the server's problems are not its own.
    problems = [] if cmd else settings.server_problems()
    if problems:
        raise ConfigError("\n".join(problems))
    for warning in settings.warnings():
        log.warning("%s", warning)

    user = None
    if os.geteuid() == 0:
        user = privileges.lookup(settings.runtime_user)
        dirs = [settings.data_dir, settings.state_dir, settings.runtime_dir]
        if settings.runs_backup_scheduler or settings.runs_api:  # the API's jobs back up too
            dirs.append(settings.backup_dir)
        privileges.fix_ownership(dirs, user)
        if user.uid == 0:
            log.warning("ODOO_SAAS_USER=root: Odoo runs as root")
    render.render_all(settings, uid=user.uid if user else None, gid=user.gid if user else None)
    if user:
        privileges.drop_to(user)
    # Now Odoo's user: what this process can still read, every addon could.
    exposed = privileges.clear_master_password_problem(settings)
    if exposed and not cmd:
        raise ConfigError(exposed)
    if exposed:
        log.warning("%s", exposed)
    elif user is None and clear_in_environment(settings):
        log.warning(
            "ODOO_ADMIN_PASSWD is in clear in the container's environment: every process "
            "`docker exec` or the health check starts as Odoo's user carries it; give its hash "
            "(`odoo-saas hash-password`) instead"
        )

    if cmd:
        if is_odoo_command(cmd, settings):
            os.execvpe(cmd[0], cmd, odoo_environment(settings))
        os.execvp(cmd[0], cmd)

    if wait:
        wait_for_postgres(settings)
    # Errors stop the start (non-zero exit, item named); one-off commands above skip it.
    before_start(settings, postgres_required=wait)
    log.info("starting supervisord")
    sys.stdout.flush()
    sys.stderr.flush()
    argv = [sys.executable, "-m", "odoo_saas_tools", "supervise"]
    os.execve(sys.executable, argv, settings.supervisor_environment())
