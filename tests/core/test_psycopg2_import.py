"""psycopg2 is imported without Python's ssl module (odoo_saas_tools/__init__.py), and only
when something needs it: start-up time of every command. SSL connections to PostgreSQL must
still work, and ssl must still import for whoever needs it later (boto3)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from tests.support.pg import ROLE, ROLE_PASSWORD, PgCluster

PROBE = """
import sys
import odoo_saas_tools
assert "psycopg2" not in sys.modules, "psycopg2 imported before anything needs it"
import psycopg2
assert "ssl" not in sys.modules, "ssl imported"
conn = psycopg2.connect(host="127.0.0.1", port=int(sys.argv[1]), user=sys.argv[2],
                        password=sys.argv[3], dbname="postgres", sslmode="require")
print("ssl_in_use", conn.info.ssl_in_use)
with conn.cursor() as cr:
    cr.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    print("server_says", cr.fetchone()[0])
import ssl
ssl.create_default_context()
print("ssl_module", ssl.OPENSSL_VERSION_INFO[0])
"""


def _enable_ssl(cluster: PgCluster) -> None:
    key, cert = cluster.datadir / "server.key", cluster.datadir / "server.crt"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    stat = cluster.datadir.stat()
    for path in (key, cert):
        path.chmod(0o600)
        os.chown(path, stat.st_uid, stat.st_gid)
    with open(cluster.datadir / "postgresql.conf", "a") as conf:
        conf.write("ssl = on\n")
    cluster.stop()
    cluster.start()


def test_ssl_connection_after_importing_without_python_ssl(
    make_pg: Callable[[], PgCluster],
) -> None:
    cluster = make_pg()
    _enable_ssl(cluster)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(cluster.port), ROLE, ROLE_PASSWORD],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert "ssl_in_use True" in lines
    assert "server_says True" in lines
    assert "ssl_module 3" in lines
