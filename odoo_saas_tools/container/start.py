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
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo.environment import odoo_environment
from odoo_saas_tools.postgres.connection import wait_for_postgres
from odoo_saas_tools.preflight import before_start
from odoo_saas_tools.runtime import privileges, render

log = logging.getLogger(__name__)


def is_odoo_command(cmd: list[str], s: Settings) -> bool:
    name = Path(cmd[0]).name
    return name in ("odoo", "odoo-bin", Path(s.odoo_bin).name)


def start(s: Settings, cmd: list[str], *, wait: bool = True) -> None:
    """Never returns: execs the command or supervisord (errors raise before anything runs)."""
    problems = s.server_problems()
    if problems and not cmd:
        raise ConfigError("\n".join(problems))
    for warning in problems + s.warnings():
        log.warning("%s", warning)

    user = None
    if os.geteuid() == 0:
        user = privileges.lookup(s.runtime_user)
        dirs = [s.data_dir, s.runtime_dir]
        if s.runs_backup_scheduler:
            dirs.append(s.backup_dir)
        privileges.fix_ownership(dirs, user)
        if user.uid == 0:
            log.warning("ODOO_SAAS_USER=root: Odoo runs as root")
    render.render_all(s, uid=user.uid if user else None, gid=user.gid if user else None)
    if user:
        privileges.drop_to(user)

    if cmd:
        if is_odoo_command(cmd, s):
            os.execvpe(cmd[0], cmd, odoo_environment(s))
        os.execvp(cmd[0], cmd)

    if wait:
        wait_for_postgres(s)
    # Errors stop the start (non-zero exit, item named); one-off commands above skip it.
    before_start(s, postgres_required=wait)
    log.info("starting supervisord")
    sys.stdout.flush()
    sys.stderr.flush()
    argv = [sys.executable, "-m", "odoo_saas_tools", "supervise"]
    os.execve(sys.executable, argv, s.supervisor_environment())
