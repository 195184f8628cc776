"""A backup's SQL cannot run commands on the host: no backup's SQL goes through psql, and a
psql meta-command (`\\! cmd` runs a shell command in psql) is a syntax error in PostgreSQL."""

from __future__ import annotations

import gzip
import zipfile

import pytest

from odoo_saas_tools.backups.backup import create_backup
from odoo_saas_tools.postgres import databases
from tests.backups.restore.conftest import unique_name
from tests.support.cli import run_cli


@pytest.mark.parametrize("where", ["line", "mid-line", "in-a-table-job", "sql.gz", "zip"])
def test_shell_escape_in_a_backup_is_refused(settings, saas_env, fake_tenant, tmp_path, where):
    marker = tmp_path / "pwned"
    src = fake_tenant(files=1)
    good = create_backup(settings, src).path
    with zipfile.ZipFile(good) as zf:
        dump = zf.read("dump.sql")
    evil_line = f"\\! touch {marker}\n".encode()
    if where == "mid-line":
        evil_line = f"SELECT 1 \\! touch {marker}\n;\n".encode()
    # after the dump's own \unrestrict line, or among a table's keys (a parallel load's job)
    evil_dump = dump + evil_line
    if where == "in-a-table-job":
        key = b"PRIMARY KEY (id);\n"
        assert key in dump
        evil_dump = dump.replace(key, key + evil_line, 1)
    if where == "zip":
        bad = tmp_path / "evil.zip"
        with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
            for info in zin.infolist():
                data = evil_dump if info.filename == "dump.sql" else zin.read(info)
                zout.writestr(info, data)
    elif where == "sql.gz":
        bad = tmp_path / "evil.sql.gz"
        bad.write_bytes(gzip.compress(evil_dump))
    else:
        bad = tmp_path / "evil.sql"
        bad.write_bytes(evil_dump)
    target = unique_name()
    proc = run_cli(saas_env, "db", "restore", target, str(bad))
    assert proc.returncode == 1
    # every kind goes to PostgreSQL without psql (sql_stream, plain_load), where it is no SQL
    assert "meta-command" in proc.stderr
    assert not marker.exists()
    assert not databases.exists(settings, target)
