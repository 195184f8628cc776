"""Issue 26, item 10: a restore loads no more into PostgreSQL (whose disk every tenant shares)
than the hoster allows (RESTORE_MAX_DB_SIZE) and the server's free space, where it can be seen.

On main a zip's dump.sql was left out of the zip-bomb and free-space checks and nothing bounded
what a load wrote: a small backup could fill PostgreSQL's disk.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import zipfile
from pathlib import Path

import pytest

from odoo_saas_tools.backups import archive, load_limit
from odoo_saas_tools.backups.backup import create_backup
from odoo_saas_tools.backups.names import sha256_file, write_checksum
from odoo_saas_tools.backups.restore import RestoreOptions, restore_backup
from odoo_saas_tools.backups.verify import verify
from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.postgres import databases, disk, loader
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.tenants import hidden
from tests.backups.restore.conftest import FAKE_SCHEMA, db_rows, unique_name
from tests.support.pg import SUPERUSER

MiB = 1024**2


def _nothing_left(settings, name: str) -> None:
    """No tenant, no scratch or replaced database, no loading role, no scratch filestore."""
    assert not databases.exists(settings, name)
    rows = db_rows(settings, "postgres", "SELECT datname FROM pg_database")
    prefixes = (hidden.RESTORE_PREFIX, hidden.VERIFY_PREFIX, hidden.REPLACED_PREFIX)
    assert [n for (n,) in rows if n.startswith(prefixes)] == []
    assert loader.leftover_roles(settings) == []
    root = settings.filestore_root
    assert (
        not root.is_dir() or [p.name for p in root.iterdir() if p.name.startswith(prefixes)] == []
    )
    assert not settings.filestore(name).exists()


def _with_dump(src: Path, out: Path, tail: bytes) -> Path:
    """src's zip with `tail` appended to its dump.sql (a comment: valid SQL)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            body = zin.read(info)
            if info.filename == archive.PLAIN_MEMBER:
                body += b"\n-- " + tail + b"\n"
            zout.writestr(info.filename, body)
    return out


def _no_load(monkeypatch) -> None:
    """Fail the test if a restore gets as far as creating its scratch database."""

    def refuse(*args, **kwargs):
        raise AssertionError("the restore started loading")

    monkeypatch.setattr(loader, "scratch_database", refuse)


def test_a_zip_whose_dump_inflates_like_a_bomb_is_refused_before_loading(
    settings, fake_tenant, tmp_path, monkeypatch
):
    src = create_backup(settings, fake_tenant(files=1), tmp_path / "b").path
    bomb = _with_dump(src, tmp_path / "bomb.zip", b"x" * (64 * MiB))
    assert bomb.stat().st_size < 2 * MiB
    _no_load(monkeypatch)
    name = unique_name()
    with pytest.raises(SaasError, match=r"member dump\.sql would inflate .* refusing a zip bomb"):
        restore_backup(settings, name, bomb)
    _nothing_left(settings, name)


def test_a_dump_bigger_than_the_hoster_allows_is_refused_before_loading(
    settings, fake_tenant, tmp_path, monkeypatch
):
    src = create_backup(settings, fake_tenant(files=1), tmp_path / "b").path
    big = _with_dump(src, tmp_path / "big.zip", os.urandom(2 * MiB).hex().encode())
    small = dataclasses.replace(settings, restore_max_db_size=1 * MiB)
    _no_load(monkeypatch)
    name = unique_name()
    with pytest.raises(SaasError, match=r"more than a restore may load \(1\.0 MiB, RESTORE_MAX"):
        restore_backup(small, name, big)
    _nothing_left(settings, name)


def test_a_dump_bigger_than_postgresqls_free_space_is_refused_before_loading(
    settings, fake_tenant, tmp_path, monkeypatch
):
    """With no fixed bound (0), the free space of PostgreSQL's disk, when seen, is the bound;
    the filestore the restore extracts counts too when that disk is the data volume."""
    src = create_backup(settings, fake_tenant(files=1), tmp_path / "b").path
    big = _with_dump(src, tmp_path / "big.zip", os.urandom(2 * MiB).hex().encode())
    unbounded = dataclasses.replace(settings, restore_max_db_size=0)
    device = os.stat(settings.data_dir).st_dev
    free = archive.FREE_RESERVE + 3 * MiB  # room for ~2.7 MiB, the dump is ~4 MiB
    monkeypatch.setattr(disk, "data_disk", lambda s: disk.Disk(tmp_path, device, free))
    _no_load(monkeypatch)
    name = unique_name()
    with pytest.raises(SaasError, match=r"PostgreSQL's free space on .* nothing restored"):
        restore_backup(unbounded, name, big)
    _nothing_left(settings, name)


def _gzip_sql(path: Path, rows: int, row: bytes) -> Path:
    """A .sql.gz creating the fake Odoo schema and a table of `rows` copies of row."""
    with gzip.open(path, "wb", compresslevel=9) as gz:
        gz.write(FAKE_SCHEMA.encode())
        gz.write(b"CREATE TABLE big (x text);\nCOPY big (x) FROM stdin;\n")
        chunk = row * 1024
        for _ in range(rows // 1024):
            gz.write(chunk)
        gz.write(b"\\.\n")
    return path


def test_a_sql_gz_bomb_is_stopped_and_nothing_is_left(settings, tmp_path):
    """256 MiB of rows in a 0.25 MiB .sql.gz: stopped after ~1.6 MiB, whatever the setting."""
    bomb = _gzip_sql(tmp_path / "bomb.sql.gz", 256 * 1024, b"a" * 1023 + b"\n")
    assert bomb.stat().st_size < MiB
    name = unique_name()
    with pytest.raises(SaasError, match=r"more than 200x\): refusing a gzip bomb"):
        restore_backup(settings, name, bomb)
    _nothing_left(settings, name)


def test_a_sql_gz_past_the_bound_is_stopped_and_nothing_is_left(settings, tmp_path):
    rows = [os.urandom(256).hex().encode() + b"\n" for _ in range(8)]
    dump = _gzip_sql(tmp_path / "big.sql.gz", 8 * 1024, b"".join(rows))  # ~32 MiB of SQL
    small = dataclasses.replace(settings, restore_max_db_size=4 * MiB)
    name = unique_name()
    passed = r"its SQL passed what a restore may load \(4\.0 MiB, RESTORE_MAX_DB_SIZE\)"
    with pytest.raises(SaasError, match=passed):
        restore_backup(small, name, dump)
    _nothing_left(settings, name)


def test_sql_that_grows_the_database_itself_is_stopped(settings, tmp_path):
    """A few bytes of SQL can write gigabytes: the database's own size is watched."""
    sql = tmp_path / "grow.sql"
    sql.write_text(
        FAKE_SCHEMA
        + "CREATE TABLE big AS SELECT i, repeat(md5(i::text), 30) AS x"
        + " FROM generate_series(1, 2000000) i;\n"  # ~2 GiB unless stopped
    )
    small = dataclasses.replace(settings, restore_max_db_size=16 * MiB)
    name = unique_name()
    with pytest.raises(SaasError, match=r"the restored database grew past .*RESTORE_MAX_DB_SIZE"):
        restore_backup(small, name, sql)
    _nothing_left(settings, name)


def test_sql_that_revokes_our_right_to_measure_is_stopped_too(settings, tmp_path):
    """The backup's SQL owns its database: it can take CONNECT away from everyone (committed
    at once), and with it the right to read the database's size and to hand it back."""
    sql = tmp_path / "blind.sql"
    sql.write_text(
        FAKE_SCHEMA
        + "DO $$ BEGIN EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC, %I', "
        + "current_database(), current_user); END $$;\nCOMMIT;\n"
        + "CREATE TABLE big AS SELECT i, repeat(md5(i::text), 30) AS x"
        + " FROM generate_series(1, 2000000) i;\n"
    )
    small = dataclasses.replace(settings, restore_max_db_size=16 * MiB)
    name = unique_name()
    with pytest.raises(SaasError, match=r"the restored database grew past"):
        restore_backup(small, name, sql)
    _nothing_left(settings, name)


def test_a_custom_dump_inflating_in_postgresql_is_stopped(settings, fake_tenant, tmp_path):
    """pg_restore inflates a dump-format backup's compressed rows where no stream is seen."""
    db = fake_tenant(files=0)
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute(
            "CREATE TABLE big AS SELECT repeat('x', 1000) AS x FROM generate_series(1, 60000)"
        )
    backup = create_backup(settings, db, tmp_path / "b", fmt="dump").path
    assert backup.stat().st_size < 4 * MiB  # ~60 MiB of rows, compressed
    small = dataclasses.replace(settings, restore_max_db_size=16 * MiB)
    name = unique_name()
    with pytest.raises(SaasError, match=r"the restored database grew past"):
        restore_backup(small, name, backup, RestoreOptions(from_other_tenant=True))
    _nothing_left(settings, name)


def test_verify_restore_test_is_bounded_too(settings, tmp_path):
    bomb = _gzip_sql(tmp_path / "tb_x_20260101-000000.sql.gz", 256 * 1024, b"a" * 1023 + b"\n")
    write_checksum(bomb, sha256_file(bomb))
    with pytest.raises(SaasError, match="refusing a gzip bomb"):
        verify(settings, bomb, restore=True)
    _nothing_left(settings, "tb_x")


def test_postgresqls_disk_is_seen_only_on_this_host_and_with_the_right(settings, pg):
    """The unprivileged role may not read where the data directory is; the superuser over the
    socket may; a server by host name is another machine's."""
    assert disk.data_disk(settings) is None
    admin = dataclasses.replace(  # over the socket, trusted: the password is not asked
        settings, db_host=str(pg.socket_dir), saas_db_user=SUPERUSER, saas_db_password="trust"
    )
    seen = disk.data_disk(admin)
    assert seen is not None and seen.path.is_dir() and seen.free > 0
    assert disk.data_disk(dataclasses.replace(admin, db_host="db")) is None
    assert load_limit.bound(dataclasses.replace(admin, restore_max_db_size=0)).size is not None
    assert load_limit.bound(dataclasses.replace(settings, restore_max_db_size=0)).size is None
