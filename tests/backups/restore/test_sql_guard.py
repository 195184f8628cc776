"""A SQL file cannot make psql run commands on the host (psql meta-commands are refused)."""

from __future__ import annotations

import gzip
import os
import zipfile

import pytest

from odoo_saas_tools.backups.backup import create_backup
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres import tools as pgtools
from tests.backups.restore.conftest import unique_name
from tests.support.cli import run_cli


def test_guard_keeps_copy_data_and_drops_the_files_own_restrict():
    guard = pgtools.SqlGuard()
    sql = (
        b"\\restrict AbC123\n"
        b"CREATE TABLE public.t (x text);\n"
        b"COPY public.t (x) FROM stdin;\n"
        b"\\restrict looks_like_a_command_but_is_data\n"
        b"plain\n"
        b"\\.\n"
        b"\\unrestrict AbC123\n"
        b"\\! echo escape\n"
    )
    # fed in small pieces: chunk boundaries must not matter
    out = guard.header() + b"".join(guard.feed(sql[i : i + 7]) for i in range(0, len(sql), 7))
    out += guard.finish()
    lines = out.split(b"\n")
    assert lines[0] == b"\\restrict " + guard.key
    assert b"\\restrict AbC123" not in out and b"\\unrestrict AbC123" not in out
    assert b"\\restrict looks_like_a_command_but_is_data" in lines  # COPY data untouched
    assert b"\\! echo escape" in lines  # left for psql, which refuses it (restricted)


def test_psql_without_restrict_loads_no_sql(settings, saas_env, fake_tenant, tmp_path, monkeypatch):
    """Issue 11 item 7: without \\restrict, `SELECT 1 \\! cmd`, an indented `\\!` and a fake
    COPY in a comment all ran shell commands past the old line filter: now no SQL is loaded."""
    from odoo_saas_tools.backups.restore import restore_backup

    marker = tmp_path / "pwned"
    sql = tmp_path / "evil.sql"
    sql.write_text(f"-- COPY x FROM stdin;\nSELECT 1 \\! touch {marker}\n   \\! touch {marker}\n")
    monkeypatch.setattr(pgtools, "psql_supports_restrict", lambda: False)
    name = f"nr{os.getpid()}"
    with pytest.raises(pgtools.CommandError, match="cannot restrict meta-commands"):
        restore_backup(settings, name, sql)
    assert not marker.exists()
    from odoo_saas_tools.postgres import databases

    assert not databases.exists(settings, name)


@pytest.mark.parametrize("where", ["line", "mid-line", "sql.gz", "zip"])
def test_shell_escape_in_a_backup_is_refused(settings, saas_env, fake_tenant, tmp_path, where):
    assert pgtools.psql_supports_restrict()
    marker = tmp_path / "pwned"
    src = fake_tenant(files=1)
    good = create_backup(settings, src).path
    with zipfile.ZipFile(good) as zf:
        dump = zf.read("dump.sql")
    evil_line = f"\\! touch {marker}\n".encode()
    if where == "mid-line":
        evil_line = f"SELECT 1 \\! touch {marker}\n;\n".encode()
    # after the dump's own \unrestrict: a file cannot lift our restriction
    evil_dump = dump + evil_line
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
    # a .sql goes through psql, which refuses it (\restrict); a zip's dump.sql and a .sql.gz
    # go to PostgreSQL without psql (postgres/sql_stream.py), where it is no SQL
    assert ("restricted" if where in ("line", "mid-line") else "meta-command") in proc.stderr
    assert not marker.exists()
    assert not databases.exists(settings, target)
