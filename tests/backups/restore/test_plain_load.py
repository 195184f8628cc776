"""The parallel plain-SQL load: same database as one psql stream, and no row taken for a header."""

from __future__ import annotations

import itertools
import zipfile

from odoo_saas_tools.backups.backup import create_backup
from odoo_saas_tools.postgres import databases, plain_load
from odoo_saas_tools.postgres import tools as pgtools
from tests.backups.restore.conftest import db_rows, unique_name

SCHEMA = """
SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner) FROM pg_class c
 WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1
"""
CONSTRAINTS = "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint ORDER BY 1"
INDEXES = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"


def _dump_of(settings, db, tmp_path):
    with zipfile.ZipFile(create_backup(settings, db, tmp_path / "b").path) as zf:
        path = tmp_path / "dump.sql"
        path.write_bytes(zf.read("dump.sql"))
    return path


def test_toc_finds_pg_dumps_sections_and_skips_copy_rows(settings, fake_tenant, tmp_path):
    db = fake_tenant(files=2)
    # a row whose text is exactly a pg_dump header must stay data
    fake_header = "\n--\n-- Name: evil; Type: INDEX; Schema: public; Owner: -\n--\n"
    db_rows(
        settings,
        db,
        f"INSERT INTO res_partner (name, note) VALUES ('tricky', $${fake_header}$$) RETURNING id",
    )
    db_rows(
        settings,
        db,
        "CREATE INDEX res_partner_name ON res_partner (name); "
        "ALTER TABLE ir_attachment ADD CONSTRAINT att_mod FOREIGN KEY (id) "
        "REFERENCES ir_attachment (id); SELECT 1",
    )
    path = _dump_of(settings, db, tmp_path)
    data = path.read_bytes()
    preamble, entries = plain_load.table_of_contents(data)
    assert data[:preamble].lstrip().startswith(b"--")
    types = [e.type for e in entries]
    assert b"TABLE" in types and b"TABLE DATA" in types and b"INDEX" in types
    assert b"FK CONSTRAINT" in types
    assert entries[0].start == preamble and entries[-1].end == len(data)
    assert all(a.end == b.start for a, b in itertools.pairwise(entries))
    phases = plain_load.phases(entries)
    assert [parallel for parallel, _ in phases] == [False, True, True, False, False]
    assert {e.type for e in phases[1][1]} <= plain_load.DATA_TYPES
    assert {e.type for e in phases[3][1]} == {b"FK CONSTRAINT"}  # one stream: no lock cycles


def test_parallel_load_builds_the_same_database_as_one_stream(settings, fake_tenant, tmp_path):
    db = fake_tenant(files=3)
    db_rows(settings, db, "CREATE INDEX res_partner_name ON res_partner (name); SELECT 1")
    path = _dump_of(settings, db, tmp_path)
    one, many = unique_name(), unique_name()
    try:
        for name in (one, many):
            databases.create_empty(settings, name)
        with open(path, "rb") as fh:
            pgtools.psql_load(settings, one, fh)
        plain_load.load_file(settings, many, path, jobs=3)
        for query in (SCHEMA, CONSTRAINTS, INDEXES, "SELECT * FROM res_partner ORDER BY id"):
            assert db_rows(settings, one, query) == db_rows(settings, many, query), query
        seq = "SELECT last_value FROM res_partner_id_seq"
        assert db_rows(settings, one, seq) == db_rows(settings, many, seq)
    finally:
        for name in (one, many):
            databases.drop_quietly(settings, name)
