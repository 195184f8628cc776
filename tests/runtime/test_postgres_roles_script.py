"""compose/postgres/roles.sh, run as the postgres image runs it (a superuser over the local
socket), on a new cluster and on one made before (where Odoo's role was the superuser)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.preflight import db_roles
from odoo_saas_tools.preflight.findings import ERROR, Report
from tests.conftest import stack_environment
from tests.support.pg import MANAGER, MANAGER_PASSWORD, ROLE, ROLE_PASSWORD, SUPERUSER

SCRIPT = Path(__file__).resolve().parents[2] / "compose" / "postgres" / "roles.sh"


def run_script(cluster, superuser: str, secrets: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PGHOST": str(cluster.socket_dir), "PGPORT": str(cluster.port)}
    return subprocess.run(
        ["sh", str(SCRIPT), superuser, str(secrets)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def secrets_dir(tmp_path: Path) -> Path:
    d = tmp_path / "secrets"
    d.mkdir()
    (d / "db_password").write_text(ROLE_PASSWORD)
    (d / "saas_db_password").write_text(MANAGER_PASSWORD)
    (d / "postgres_password").write_text("superuser-test-secret")
    return d


def roles(cluster) -> dict[str, tuple[bool, bool, bool]]:
    with cluster.admin() as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
            "WHERE rolname IN (%s, %s, 'postgres')",
            (ROLE, MANAGER),
        )
        return {name: tuple(flags) for name, *flags in cr.fetchall()}


def test_a_new_cluster_gets_both_roles_and_pre_flight_is_content(make_pg, tmp_path):
    cluster = make_pg()
    with cluster.admin() as conn, conn.cursor() as cr:  # as a bare postgres image has it
        cr.execute(f"DROP ROLE {ROLE}; DROP ROLE {MANAGER}")
    proc = run_script(cluster, SUPERUSER, secrets_dir(tmp_path))
    assert proc.returncode == 0, proc.stderr
    found = roles(cluster)
    assert found[ROLE] == (False, False, False)
    assert found[MANAGER] == (False, True, True)
    assert run_script(cluster, SUPERUSER, tmp_path / "secrets").returncode == 0  # idempotent
    report = Report()
    db_roles.check_roles(Settings.from_env(stack_environment(cluster, tmp_path)), report, fix=True)
    assert not [f for f in report.findings if f.status == ERROR], report.findings


def test_a_cluster_where_odoo_was_the_superuser_is_put_right(make_pg, tmp_path):
    cluster = make_pg()
    with cluster.admin() as conn, conn.cursor() as cr:  # what POSTGRES_USER=odoo made
        cr.execute(f"ALTER ROLE {ROLE} SUPERUSER; DROP ROLE {MANAGER}")
    settings = Settings.from_env(stack_environment(cluster, tmp_path))
    report = Report()
    db_roles.check_roles(settings, report, fix=True)
    errors = [f.message for f in report.findings if f.status == ERROR]
    assert any("management role" in e for e in errors) and any("SUPERUSER" in e for e in errors)
    proc = run_script(cluster, ROLE, secrets_dir(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert roles(cluster)[ROLE] == (False, False, False)
    assert roles(cluster)["postgres"][0] is True  # a superuser is left for the hoster
    report = Report()
    db_roles.check_roles(settings, report, fix=True)
    assert not [f for f in report.findings if f.status == ERROR], report.findings
