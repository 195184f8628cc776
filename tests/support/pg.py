"""A throw-away PostgreSQL cluster (initdb + pg_ctl on a free port) that tests may stop and break.

Tests run as root in CI; PostgreSQL refuses to, so the cluster then belongs to the `postgres`
system user (or `nobody`). TCP connections need a password (scram), as in production; the fixture's
own superuser uses the Unix socket.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2

from tests.support.net import free_port

ROLE = "odoo"  # Odoo's own: owns nothing, creates nothing
ROLE_PASSWORD = "pg-test-secret-8c1f"
MANAGER = "odoo_saas"  # odoo-saas's management role: CREATEDB CREATEROLE, owns the tenants
MANAGER_PASSWORD = "pg-test-manager-3d7a"
SUPERUSER = "pgadmin"


def pg_bindir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise RuntimeError("PostgreSQL server binaries (initdb) not found; install postgresql")
    return Path(candidates[-1]).parent


def _os_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and neither 'postgres' nor 'nobody' exists")


class PgCluster:
    def __init__(self) -> None:
        self.bindir = pg_bindir()
        self.os_user = _os_user()
        self.base = Path(tempfile.mkdtemp(prefix="odoo-saas-pg-"))
        self.datadir = self.base / "data"
        self.socket_dir = self.base / "sock"
        self.socket_dir.mkdir()
        self.logfile = self.base / "postgres.log"
        self.port = free_port()
        if self.os_user:
            pw = pwd.getpwnam(self.os_user)
            os.chmod(self.base, 0o755)
            for path in (self.base, self.socket_dir):
                os.chown(path, pw.pw_uid, pw.pw_gid)

    # --- process control -------------------------------------------------------------
    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        kwargs = {"user": self.os_user, "extra_groups": []} if self.os_user else {}
        return subprocess.run(
            [str(self.bindir / argv[0]), *argv[1:]],
            check=check,
            capture_output=True,
            cwd=self.base,
            **kwargs,
        )

    def init(self) -> PgCluster:
        pwfile = self.base / "pw"
        pwfile.write_text(ROLE_PASSWORD + "\n")
        if self.os_user:
            pw = pwd.getpwnam(self.os_user)
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            SUPERUSER,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        pwfile.unlink()
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 200\nshared_buffers = 64MB\n"
            )
        self.start()
        with self.admin() as conn, conn.cursor() as cr:
            cr.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD %s", (ROLE_PASSWORD,))
            cr.execute(
                f"CREATE ROLE {MANAGER} LOGIN CREATEDB CREATEROLE PASSWORD %s",
                (MANAGER_PASSWORD,),
            )
        return self

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop", check=False)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    # --- access -------------------------------------------------------------------------
    @contextlib.contextmanager
    def admin(self, dbname: str = "postgres") -> Iterator[psycopg2.extensions.connection]:
        conn = psycopg2.connect(
            host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname=dbname
        )
        conn.autocommit = True
        try:
            yield conn
        finally:
            conn.close()

    def env(self) -> dict[str, str]:
        """ODOO_DB_* settings for Odoo's role and the management role, over TCP with passwords."""
        return {
            "ODOO_DB_HOST": "127.0.0.1",
            "ODOO_DB_PORT": str(self.port),
            "ODOO_DB_USER": ROLE,
            "ODOO_DB_PASSWORD": ROLE_PASSWORD,
            "ODOO_SAAS_DB_USER": MANAGER,
            "ODOO_SAAS_DB_PASSWORD": MANAGER_PASSWORD,
            "ODOO_DB_SSLMODE": "disable",
        }

    def databases(self) -> set[str]:
        with self.admin() as conn, conn.cursor() as cr:
            cr.execute("SELECT datname FROM pg_database")
            return {r[0] for r in cr.fetchall()}
