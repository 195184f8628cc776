"""The parallel plain-SQL load (postgres/plain_load.py, planned by postgres/plain_dump.py): the
same database as one stream, from a file or a spooled stream, and the first error is the one
reported. The plan on made-up dumps, without PostgreSQL: tests/unit/test_plain_dump.py."""

from __future__ import annotations

import io
import itertools
import os
import threading
import zipfile
import zlib

import pytest

from odoo_saas_tools.backups.backup import create_backup
from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.postgres import databases, plain_dump, plain_load, sql_stream
from tests.backups.restore.conftest import add_attachment, db_rows, unique_name

SCHEMA = """
SELECT c.relname, c.relkind, c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user),
       c.relhasindex FROM pg_class c
 WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1
"""
CONSTRAINTS = "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint ORDER BY 1"
INDEXES = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
INHERITS = "SELECT inhrelid::regclass::text, inhparent::regclass::text FROM pg_inherits ORDER BY 1"
COMMENTS = """
SELECT c.relname, d.description FROM pg_description d JOIN pg_class c ON c.oid = d.objoid
 WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1, 2
"""
CHECKS = (
    SCHEMA,
    CONSTRAINTS,
    INDEXES,
    INHERITS,
    "SELECT * FROM res_partner ORDER BY id",
    'SELECT * FROM "we.ird table" ORDER BY id',
    "SELECT * FROM ir_actions ORDER BY id",
    "SELECT last_value FROM res_partner_id_seq",
)
# What an Odoo tenant's dump holds besides plain tables: inheritance (ir_act_* INHERITS
# ir_actions), a quoted name that looks qualified, keys, foreign keys both ways between two
# tables, a view, index comments.
EXTRAS = """
CREATE TABLE ir_actions (id serial PRIMARY KEY, name varchar);
CREATE TABLE ir_act_client (tag varchar NOT NULL) INHERITS (ir_actions);
ALTER TABLE ir_act_client ADD PRIMARY KEY (id);
INSERT INTO ir_actions (name) VALUES ('parent');
INSERT INTO ir_act_client (name, tag) VALUES ('child', 'x');
CREATE TABLE "we.ird table" (id int PRIMARY KEY, partner int REFERENCES res_partner (id));
INSERT INTO "we.ird table" SELECT i, i FROM generate_series(1, 300) i;
CREATE UNIQUE INDEX "odd index" ON "we.ird table" (partner);
ALTER TABLE res_partner ADD COLUMN weird_id int REFERENCES "we.ird table" (id);
UPDATE res_partner SET weird_id = id WHERE id <= 300;
COMMENT ON INDEX "odd index" IS 'one per partner';
CREATE INDEX res_partner_name ON res_partner (name);
CREATE VIEW partner_names AS SELECT name FROM res_partner;
SELECT 1
"""


def _dump_of(settings, db, tmp_path) -> bytes:
    with zipfile.ZipFile(create_backup(settings, db, tmp_path / "b").path) as zf:
        return zf.read("dump.sql")


@pytest.fixture
def dump(settings, fake_tenant, tmp_path) -> bytes:
    db = fake_tenant(files=2)
    db_rows(settings, db, EXTRAS)
    # a row whose text is exactly a pg_dump header must stay data
    header = "\n--\n-- Name: evil; Type: INDEX; Schema: public; Owner: -\n--\n"
    db_rows(
        settings, db, f"INSERT INTO res_partner (name, note) VALUES ('x', $${header}$$); SELECT 1"
    )
    return _dump_of(settings, db, tmp_path)


@pytest.fixture
def scratch(settings):
    names: list[str] = []

    def make() -> str:
        names.append(unique_name())
        databases.create_empty(settings, names[-1])
        return names[-1]

    yield make
    for name in names:
        databases.drop_quietly(settings, name)


def test_the_plan_gives_each_table_its_rows_and_keys_and_ties_foreign_keys_to_both_tables(dump):
    preamble, entries = plain_dump.table_of_contents(dump)
    assert dump[:preamble].lstrip().startswith(b"--")
    assert entries[0].start == preamble and entries[-1].end == len(dump)
    assert all(a.end == b.start for a, b in itertools.pairwise(entries))
    plan = plain_dump.plan(dump, entries)
    assert plan is not None
    assert {e.type for e in plan.schema} & plain_dump.DATA_TYPES == set()
    assert not {e.type for e in plan.tail} & {b"INDEX", b"CONSTRAINT", b"TABLE DATA"}
    copy = plain_dump._TABLE_OF[b"TABLE DATA"]
    jobs = {job.table: job.entries for job in plan.jobs}
    for table, job in jobs.items():
        if job[0].type == b"TABLE DATA":
            assert copy.search(dump, job[0].start, job[0].end).group(1) == table
    weird = jobs[b'public."we.ird table"']
    assert [e.type for e in weird] == [b"TABLE DATA", b"CONSTRAINT", b"INDEX"]
    assert [e.type for e in jobs[b"public.ir_act_client"]] == [b"TABLE DATA", b"CONSTRAINT"]
    sizes = [job.size for job in plan.jobs]
    assert sizes == sorted(sizes, reverse=True)  # the biggest table starts first
    # the foreign key waits for both its tables' jobs (rows and keys), not for every table
    assert len(plan.foreign_keys) == 2
    for fk in plan.foreign_keys:
        assert fk.tables == {b'public."we.ird table"', b"public.res_partner"}
    assert b"FK CONSTRAINT" not in {e.type for e in plan.tail}


def test_foreign_keys_run_once_both_tables_are_loaded_on_one_connection_at_a_time():
    def job(table: bytes) -> plain_dump.Job:
        return plain_dump.Job(table, [plain_dump.Entry(0, len(table), b"TABLE DATA")])

    def key(a: bytes, b: bytes) -> plain_dump.ForeignKey:
        return plain_dump.ForeignKey(plain_dump.Entry(0, 1, a + b), frozenset((a, b)))

    big, a, b = job(b"big"), job(b"a"), job(b"b")
    ab, ba, big_a = key(b"a", b"b"), key(b"b", b"a"), key(b"big", b"a")
    schedule = plain_load._Schedule([big, a, b], [ab, ba, big_a])
    assert schedule.take() is big and schedule.take() is a
    schedule.done(a)
    assert schedule.take() is b  # a's keys also need b
    schedule.done(b)
    batch = schedule.take()
    assert batch == [ab.entry, ba.entry]  # both ways, in one batch on one connection
    taken: list[object] = []
    waiter = threading.Thread(target=lambda: taken.append(schedule.take()))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive()  # big is still loading and the keys are taken
    schedule.done(batch)
    waiter.join(0.2)
    assert waiter.is_alive()  # nothing ready yet: it waits for big
    schedule.done(big)
    waiter.join(5)
    assert taken == [[big_a.entry]]
    schedule.done(taken[0])
    assert schedule.take() is None


def _same(settings, one: str, other: str) -> None:
    for query in (*CHECKS, COMMENTS):
        assert db_rows(settings, one, query) == db_rows(settings, other, query), query


def test_file_and_spooled_stream_build_the_same_database_as_one_stream(
    settings, dump, scratch, tmp_path, monkeypatch
):
    one, from_file, from_stream = scratch(), scratch(), scratch()
    sql_stream.load_stream(settings, one, io.BytesIO(dump))
    path = tmp_path / "dump.sql"
    path.write_bytes(dump)
    plain_load.load_file(settings, from_file, path, jobs=3)
    monkeypatch.setattr(plain_load, "_SPOOL_CHUNK", 1000)  # headers straddle the spool's reads
    spool = tmp_path / "spool"
    spool.mkdir()
    plain_load.load_stream(settings, from_stream, io.BytesIO(dump), spool_dir=spool, jobs=2)
    _same(settings, one, from_file)
    _same(settings, one, from_stream)
    assert db_rows(settings, from_stream, 'SELECT count(*) FROM "we.ird table"') == [(300,)]
    assert not list(spool.iterdir())  # the spool has no name: nothing left behind


def test_partitions_and_hand_written_sql_load_in_one_stream(settings, scratch, tmp_path):
    partitioned = (
        b"\n--\n-- Name: m; Type: TABLE; Schema: public; Owner: -\n--\n\n"
        b"CREATE TABLE public.m (k int) PARTITION BY RANGE (k);\n"
        b"CREATE TABLE public.m1 PARTITION OF public.m FOR VALUES FROM (0) TO (10);\n"
        b"\n--\n-- Data for Name: m1; Type: TABLE DATA; Schema: public; Owner: -\n--\n\n"
        b"COPY public.m (k) FROM stdin;\n1\n2\n\\.\n\n"
        b"\n--\n-- Name: m_k; Type: INDEX; Schema: public; Owner: -\n--\n\n"
        b"CREATE INDEX m_k ON ONLY public.m USING btree (k);\n"
    )
    assert plain_dump.plan(partitioned, plain_dump.table_of_contents(partitioned)[1]) is None
    hand_written = (
        b"CREATE TABLE h (x int);\nCOPY h (x) FROM stdin;\n7\n\\.\nCREATE INDEX ON h (x);\n"
    )
    for text, query, rows in (
        (partitioned, "SELECT k FROM m ORDER BY k", [(1,), (2,)]),
        (hand_written, "SELECT x FROM h", [(7,)]),
    ):
        db = scratch()
        path = tmp_path / f"{db}.sql"
        path.write_bytes(text)
        plain_load.load_file(settings, db, path, jobs=2)
        assert db_rows(settings, db, query) == rows
        other = scratch()
        plain_load.load_stream(settings, other, io.BytesIO(text), spool_dir=tmp_path, jobs=2)
        assert db_rows(settings, other, query) == rows


def test_a_failing_job_is_the_error_reported_not_the_others_cancellation(
    settings, dump, scratch, tmp_path
):
    # an index on a column that does not exist, in the last table's job
    broken = dump.replace(
        b"CREATE INDEX res_partner_name ON public.res_partner USING btree (name);",
        b"CREATE INDEX res_partner_name ON public.res_partner USING btree (no_such_column);",
    )
    assert broken != dump
    path = tmp_path / "broken.sql"
    path.write_bytes(broken)
    with pytest.raises(SaasError, match='column "no_such_column" does not exist'):
        plain_load.load_file(settings, scratch(), path, jobs=3)


class Breaks(io.RawIOBase):
    """The dump's first bytes, then what a damaged zip raises."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int = -1) -> bytes:
        if not self.data:
            raise zlib.error("invalid stored block lengths")
        out, self.data = self.data[:size], self.data[size:]
        return out


def test_a_read_error_of_the_stream_is_raised_as_itself_and_the_spool_stops(
    settings, dump, scratch, tmp_path
):
    before = threading.active_count()
    spool = tmp_path / "spool"
    spool.mkdir()
    db = scratch()
    with pytest.raises(zlib.error, match="invalid stored block"):
        plain_load.load_stream(
            settings, db, Breaks(dump[: len(dump) // 2]), spool_dir=spool, jobs=2
        )
    assert threading.active_count() == before  # the spooling thread ended with the load
    assert not list(spool.iterdir())
    assert db_rows(settings, db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [
        (0,)
    ]


def test_a_restore_keeps_a_core_for_the_files_it_must_inflate(settings, fake_tenant, tmp_path):
    """Files a filestore on disk holds are hard-linked (no CPU): the database gets every
    connection. Files to inflate, more than the dump, keep one core for themselves."""
    from odoo_saas_tools.backups import archive, loading

    src = fake_tenant(files=1)
    add_attachment(settings, src, os.urandom(2 * 1024**2))  # far more than the dump
    with zipfile.ZipFile(create_backup(settings, src, tmp_path / "b").path) as zf:
        on_disk = archive.FileReuse([settings.filestore(src)], os.geteuid())
        elsewhere = archive.FileReuse([tmp_path / "no such filestore"], os.geteuid())
        assert archive.bytes_to_extract(zf, on_disk) == 0
        assert archive.bytes_to_extract(zf, elsewhere) > 2 * 1024**2
        assert loading._database_jobs(zf, 2, on_disk) == 2
        assert loading._database_jobs(zf, 2, elsewhere) == 1
        assert loading._database_jobs(zf, 4, None) == 3


def test_the_dump_is_spooled_only_when_the_data_volume_has_room_for_it(
    settings, fake_tenant, tmp_path, monkeypatch
):
    from collections import namedtuple

    from odoo_saas_tools.backups import archive

    src = fake_tenant(files=1)
    with zipfile.ZipFile(create_backup(settings, src, tmp_path / "b").path) as zf:
        dump = zf.getinfo("dump.sql").file_size
        usage = namedtuple("usage", "total used free")
        inflated = sum(i.file_size for i in zf.infolist() if i.filename != "dump.sql") + dump
        needed = int(inflated * archive.ROOM_MARGIN) + archive.FREE_RESERVE + 1
        monkeypatch.setattr(archive.shutil, "disk_usage", lambda _: usage(0, 0, needed))
        assert archive.has_room_for_dump(zf, tmp_path)
        monkeypatch.setattr(archive.shutil, "disk_usage", lambda _: usage(0, 0, dump))
        assert not archive.has_room_for_dump(zf, tmp_path)
