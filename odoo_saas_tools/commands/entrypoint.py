"""`odoo-saas entrypoint [COMMAND...]`: validate, render the configuration, start the stack.

With no command it becomes supervisord (PID 1 in the container); with a command it renders the
configuration and runs that command instead (e.g. `odoo --version`, `bash`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from odoo_saas_tools import privileges, render
from odoo_saas_tools.errors import ConfigError
from odoo_saas_tools.postgres import wait_for_postgres
from odoo_saas_tools.settings import Settings

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "entrypoint",
        help="container entrypoint: validate, render odoo.conf/supervisord.conf, start",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "cmd",
        nargs=argparse.REMAINDER,
        metavar="COMMAND",
        help="run this instead of supervisord (after rendering)",
    )
    p.add_argument(
        "--no-wait", action="store_true", help="do not wait for PostgreSQL before starting"
    )
    p.set_defaults(func=run, program_name="entrypoint")


def is_odoo_command(cmd: list[str], s: Settings) -> bool:
    name = Path(cmd[0]).name
    return name in ("odoo", "odoo-bin", Path(s.odoo_bin).name)


def odoo_environment(s: Settings, home: str | None = None) -> dict[str, str]:
    """The whole environment Odoo gets: Odoo 19 reads ODOO_* and PG* over its config file."""
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


def run(args: argparse.Namespace, s: Settings) -> int:
    cmd: list[str] = [c for c in args.cmd if c != "--"] if args.cmd else []
    problems = s.server_problems()
    if problems and not cmd:
        raise ConfigError("\n".join(problems))
    for warning in problems + s.warnings():
        log.warning("%s", warning)

    user = None
    if os.geteuid() == 0:
        user = privileges.lookup(s.runtime_user)
        dirs = [s.data_dir, s.runtime_dir]
        if s.auto_backup:
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

    if not args.no_wait:
        wait_for_postgres(s)
    # Errors stop the start (non-zero exit, item named); one-off commands above skip it.
    # Imported here: the preflight modules use odoo_environment from this module.
    from odoo_saas_tools.preflight import before_start

    before_start(s, postgres_required=not args.no_wait)
    log.info("starting supervisord")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "odoo_saas_tools", "supervise"])
    return 0  # not reached
