"""Unit tier: the plain dump parser (postgres/plain_dump.py) on dumps written here the way
pg_dump writes them: the table of contents, and the plan of the parallel load. Pure code: no
PostgreSQL (the load itself: tests/backups/restore/test_plain_load.py)."""

from __future__ import annotations

import itertools

from odoo_saas_tools.postgres import plain_dump
from odoo_saas_tools.postgres.plain_dump import Entry, plan, table_of_contents

PREAMBLE = b"--\n-- PostgreSQL database dump\n--\n\nSET client_encoding = 'UTF8';\n\n"


def entry(name: str, kind: str, body: str, data: bool = False) -> bytes:
    """One TOC entry as pg_dump writes it: its 3-line header, then its statements."""
    label = "Data for Name" if data else "Name"
    return (
        f"--\n-- {label}: {name}; Type: {kind}; Schema: public; Owner: -\n--\n\n{body}\n\n".encode()
    )


PARTNER = "public.res_partner"
WEIRD = 'public."we.ird table"'
SCHEMA = [
    entry("res_partner", "TABLE", f"CREATE TABLE {PARTNER} (id integer NOT NULL, name text);"),
    entry("we.ird table", "TABLE", f"CREATE TABLE {WEIRD} (id integer, partner integer);"),
    entry("notes", "TABLE", "CREATE TABLE public.notes (line text);"),
    entry("res_partner_id_seq", "SEQUENCE", "CREATE SEQUENCE public.res_partner_id_seq;"),
]
DATA = [
    entry("res_partner", "TABLE DATA", f"COPY {PARTNER} (id, name) FROM stdin;\n1\tx\n\\.\n", True),
    entry(
        "we.ird table", "TABLE DATA", f"COPY {WEIRD} (id, partner) FROM stdin;\n1\t1\n\\.\n", True
    ),
    # three rows that read exactly like a header: they are data, not an entry of their own
    entry(
        "notes",
        "TABLE DATA",
        "COPY public.notes (line) FROM stdin;\n--\n"
        "-- Name: evil; Type: INDEX; Schema: public; Owner: -\n--\n\\.\n",
        True,
    ),
    entry("res_partner_id_seq", "SEQUENCE SET", "SELECT setval('public.res_partner_id_seq', 1);"),
]
POST = [
    entry(
        "res_partner res_partner_pkey",
        "CONSTRAINT",
        f"ALTER TABLE ONLY {PARTNER}\n    ADD CONSTRAINT res_partner_pkey PRIMARY KEY (id);",
    ),
    entry(
        "odd index", "INDEX", f'CREATE UNIQUE INDEX "odd index" ON {WEIRD} USING btree (partner);'
    ),
    entry(
        "we.ird table fk",
        "FK CONSTRAINT",
        f"ALTER TABLE ONLY {WEIRD}\n    ADD CONSTRAINT fk FOREIGN KEY (partner) "
        f"REFERENCES {PARTNER}(id);",
    ),
    entry(
        "notes fk",
        "FK CONSTRAINT",
        "ALTER TABLE ONLY public.notes\n    ADD CONSTRAINT n CHECK (true);",
    ),
    entry('INDEX "odd index"', "COMMENT", "COMMENT ON INDEX public.\"odd index\" IS 'one';"),
]
DUMP = PREAMBLE + b"".join(SCHEMA + DATA + POST)


def types(entries: list[Entry]) -> list[bytes]:
    return [e.type for e in entries]


def test_the_table_of_contents_cuts_the_dump_at_its_headers_and_nowhere_else():
    preamble, entries = table_of_contents(DUMP)
    assert DUMP[:preamble] == PREAMBLE
    assert entries[0].start == preamble and entries[-1].end == len(DUMP)
    assert all(a.end == b.start for a, b in itertools.pairwise(entries))
    assert [DUMP[e.start : e.end] for e in entries] == SCHEMA + DATA + POST  # "evil" stays data
    assert types(entries).count(b"INDEX") == 1
    # read from an offset on: only what follows (the loader's schema already ran)
    from_post = entries[len(SCHEMA) + len(DATA)].start
    assert table_of_contents(DUMP, from_post)[1] == entries[len(SCHEMA) + len(DATA) :]


def test_without_pg_dump_headers_there_are_no_entries_and_no_plan():
    hand_written = b"CREATE TABLE h (x int);\nCOPY h (x) FROM stdin;\n7\n\\.\n"
    assert table_of_contents(hand_written) == (len(hand_written), [])
    assert plan(hand_written, []) is None


def test_each_table_gets_its_rows_and_keys_and_foreign_keys_wait_for_both_tables():
    steps = plan(DUMP, table_of_contents(DUMP)[1])
    assert steps is not None
    assert types(steps.schema) == [b"TABLE", b"TABLE", b"TABLE", b"SEQUENCE"]
    jobs = {job.table: types(job.entries) for job in steps.jobs}
    assert jobs == {
        PARTNER.encode(): [b"TABLE DATA", b"CONSTRAINT"],
        WEIRD.encode(): [b"TABLE DATA", b"INDEX"],
        b"public.notes": [b"TABLE DATA"],
        b"\0SEQUENCE SET": [b"SEQUENCE SET"],
    }
    sizes = [job.size for job in steps.jobs]
    assert sizes == sorted(sizes, reverse=True)  # the biggest job starts first
    assert [fk.tables for fk in steps.foreign_keys] == [{WEIRD.encode(), PARTNER.encode()}]
    # what is no foreign key between two tables with jobs stays in the tail, in order
    assert types(steps.tail) == [b"FK CONSTRAINT", b"COMMENT"]


def test_dumps_the_plan_could_get_wrong_load_in_one_stream():
    partitioned = PREAMBLE + b"".join(
        [entry("m", "TABLE", "CREATE TABLE public.m (k int) PARTITION BY RANGE (k);"), *DATA]
    )
    schema_after_data = PREAMBLE + b"".join(SCHEMA[:1] + DATA[:1] + SCHEMA[1:] + DATA[1:])
    unknown_index = PREAMBLE + b"".join(
        [*SCHEMA, *DATA, entry("i", "INDEX", "CREATE INDEX i ON (SELECT 1);")]
    )
    for dump in (partitioned, schema_after_data, unknown_index):
        assert table_of_contents(dump)[1], dump
        assert plan(dump, table_of_contents(dump)[1]) is None
    assert plain_dump.partitioned(partitioned, table_of_contents(partitioned)[1])
