"""Settings valid for a server start, and PostgreSQL reachable with the configured credentials."""

from __future__ import annotations

from dataclasses import replace

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.preflight.findings import ERROR, OK, WARNING, Report
from odoo_saas_tools.runtime import privileges


def check_settings(settings: Settings, report: Report) -> None:
    """Settings.from_env already refused unusable values; what a server start needs on top."""
    problems = settings.server_problems()
    exposed = privileges.clear_master_password_problem(settings)
    if exposed:
        problems.append(exposed)
    for problem in problems:
        report.add("settings", problem.split()[0].rstrip(":"), ERROR, problem)
    for warning in settings.warnings():
        report.add("settings", warning.split()[0].split("=")[0], WARNING, warning)
    if not problems:
        report.add("settings", "environment", OK, "valid for starting the server")


def check_postgres(settings: Settings, report: Report, *, required: bool = True) -> bool:
    """One connection attempt (the entrypoint has already waited); the error names host:port.
    The roles themselves are checked by preflight/db_roles.py."""
    where = f"{settings.db_host}:{settings.db_port}"
    try:
        with connect(settings, connect_timeout=5) as conn, conn.cursor() as cr:
            cr.execute("SELECT current_setting('server_version'), current_user")
            version, user = cr.fetchone()
    except SaasError as exc:
        report.add("postgres", where, ERROR if required else WARNING, str(exc))
        return False
    report.add("postgres", where, OK, f"PostgreSQL {version} reachable as {user}")
    if user != settings.db_user:
        # the management role answered; Odoo logs in as its own, from another password
        try:
            with connect(replace(settings, saas_db_password=""), connect_timeout=5):
                pass
        except SaasError as exc:
            report.add("postgres", settings.db_user, ERROR if required else WARNING, str(exc))
            return False
        report.add("postgres", settings.db_user, OK, f"Odoo's role {settings.db_user} logs in")
    return True
