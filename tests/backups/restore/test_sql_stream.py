"""A plain dump loaded without psql (postgres/sql_stream.py): what psql -1 ON_ERROR_STOP did."""

from __future__ import annotations

import io
import zlib

import pytest

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.postgres import databases, sql_stream
from tests.backups.restore.conftest import db_rows, unique_name

DUMP = b"""--
-- PostgreSQL database dump
--

\\restrict Abc123
SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);

--
-- Name: t; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.t (id integer, note text);
CREATE TABLE public.empty (id integer);

--
-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.t (id, note) FROM stdin;
1\tfirst\\\\.
2\t\\\\.
3\t100%% done; COPY public.x FROM stdin;
\\.


COPY public.empty (id) FROM stdin;
\\.


--
-- Name: t t_id; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.t ADD CONSTRAINT t_id UNIQUE (id);

\\unrestrict Abc123
"""


class Trickle(io.RawIOBase):
    """Hands the dump over a few bytes at a time: every boundary falls somewhere odd."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.pos, self.step = data, 0, step

    def read(self, size: int = -1) -> bytes:
        out = self.data[self.pos : self.pos + self.step]
        self.pos += len(out)
        return out


@pytest.fixture
def scratch(settings):
    name = unique_name()
    databases.create_empty(settings, name)
    yield name
    databases.drop(settings, name)


@pytest.mark.parametrize("step", [1 << 20, 7, 3, 1])
def test_rows_statements_and_markers_survive_any_chunking(settings, scratch, step, monkeypatch):
    monkeypatch.setattr(sql_stream, "_CHUNK", 16)  # copy rows are handed on in small pieces too
    sql_stream.load_stream(settings, scratch, Trickle(DUMP, step))
    rows = db_rows(settings, scratch, "SELECT id, note FROM public.t ORDER BY id")
    assert rows == [(1, "first\\."), (2, "\\."), (3, "100%% done; COPY public.x FROM stdin;")]
    assert db_rows(settings, scratch, "SELECT count(*) FROM public.empty") == [(0,)]
    assert db_rows(settings, scratch, "SELECT conname FROM pg_constraint WHERE conname = 't_id'")


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            lambda d: d.replace(b"CREATE TABLE public.empty", b"CREATE TABLE public.empty ("),
            "syntax",
        ),
        (lambda d: d[: d.index(b"2\t")], "cut short"),
        (lambda d: d + b"\\! touch /tmp/never\n", "meta-command"),
        (lambda d: d.replace(b"2\t\\\\.", b"two\\tx"), "invalid input syntax"),
    ],
)
def test_the_first_error_ends_it_with_nothing_committed(settings, scratch, damage, message):
    with pytest.raises(SaasError, match=message):
        sql_stream.load_stream(settings, scratch, io.BytesIO(damage(DUMP)))
    tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
    assert db_rows(settings, scratch, tables) == [(0,)]


class Breaks(io.RawIOBase):
    """The dump up to the middle of a table's rows, then what a damaged gzip or zip raises."""

    def __init__(self, data: bytes, error: Exception) -> None:
        self.data, self.error = data, error

    def read(self, size: int = -1) -> bytes:
        if not self.data:
            raise self.error
        out, self.data = self.data, b""
        return out


@pytest.mark.parametrize("error", [EOFError("ended early"), zlib.error("invalid distance")])
def test_a_read_error_during_copy_is_raised_as_itself(settings, scratch, error, monkeypatch):
    """psycopg2 wraps an error of a read during COPY in its own; the restore must see the
    stream's error to name the damaged file (not 'COPY from stdin failed ...')."""
    monkeypatch.setattr(sql_stream, "_CHUNK", 8)  # the error comes inside copy_expert
    cut = DUMP.index(b"2\t")
    with pytest.raises(type(error), match=str(error)):
        sql_stream.load_stream(settings, scratch, Breaks(DUMP[:cut], error))
    assert db_rows(settings, scratch, "SELECT count(*) FROM pg_tables WHERE tablename = 't'") == [
        (0,)
    ]
