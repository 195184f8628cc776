"""Loading a plain pg_dump over several connections, the way `pg_restore -j` loads a custom one.

One stream (sql_stream) replays an Odoo dump on one core: ~5,000 statements of schema and
indexes plus the rows, 2.5-3 s for the 97 MB benchmark tenant, with the second core idle. pg_dump
writes a header before every object (`-- Name: X; Type: T; Schema: S; Owner: O`), so the file
splits into the table of contents a custom-format dump has (read and planned by the pure
postgres/plain_dump.py), and the load runs as:

1. the schema (everything before the first table's rows), one transaction on one connection;
2. one job per table: its rows (COPY), then the indexes, primary and unique keys pg_dump wrote
   for it, spread over the connections biggest first, each committed on its own (a job touches
   only its own table, so two jobs never wait for each other);
3. beside the jobs, the foreign keys whose two tables are loaded, on one connection at a time
   (two ADD FOREIGN KEY on crossing tables would deadlock): they used to wait for the last
   table and then ran on one connection with the other cores idle (~0.4 s of ~360 keys);
4. the rest (comments on constraints, triggers, grants ...) in the dump's order.

Measured on the benchmark tenant (bench/README.md, seventh pass): its dump.sql alone loads
in 2.35-2.51 s over 2 connections against 2.75-3.29 s in one stream; a whole restore of its zip
is ~10 % faster. A zip's dump.sql is first inflated to an unnamed file on the data volume
by a thread, while the schema already loads. The database is a scratch one nobody uses yet and
is dropped on any failure, so committing job by job loses nothing. What per-table jobs could
get wrong (partitions, a dump without pg_dump's headers) is loaded in one stream as before.
Like sql_stream, no psql is involved: a meta-command is a SQL syntax error, and the SQL runs as
the throw-away loading role (postgres/loader.py).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import psycopg2
import psycopg2.errors

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import plain_dump, sql_stream
from odoo_saas_tools.postgres import tools as pgtools
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.postgres.plain_dump import (
    Entry,
    ForeignKey,
    Job,
    Plan,
    plan,
    table_of_contents,
)

_SPOOL_CHUNK = 1 << 20
_BATCH_BYTES = 16 << 20  # schema sent per query at most (whole entries)


# --- running ------------------------------------------------------------------------------------
class _Rows:
    """File-like rows of one COPY, read straight from the mapped dump."""

    def __init__(self, data: mmap.mmap, start: int, end: int) -> None:
        self.data, self.pos, self.end = data, start, end

    def read(self, size: int = -1) -> bytes:
        stop = self.end if size < 0 else min(self.end, self.pos + size)
        out = self.data[self.pos : stop]
        self.pos = stop
        return out


def _run(cr: psycopg2.extensions.cursor, data: mmap.mmap, entries: list[Entry]) -> None:
    """Run entries in order: statements batched into few queries, rows through COPY."""
    held: list[bytes] = []
    size = 0
    for entry in entries:
        copy = (
            data.find(b"\nCOPY ", max(entry.start - 1, 0), entry.end)
            if entry.type == b"TABLE DATA"
            else -1
        )
        if copy != -1:
            copy += 1
            sql_stream.execute(cr, b"".join(held) + data[entry.start : copy])
            held, size = [], 0
            rows = data.find(b"\n", copy, entry.end) + 1
            end = data.find(plain_dump.COPY_END, rows - 1, entry.end)
            if rows == 0 or end == -1:
                raise sql_stream.DumpError(
                    "the dump ends inside a table's COPY data: it is cut short"
                )
            statement = data[copy : rows - 2].decode()  # without ";\n"
            cr.copy_expert(statement, _Rows(data, rows, end + 1), size=_SPOOL_CHUNK)
            held.append(data[end + len(plain_dump.COPY_END) : entry.end])
            continue
        held.append(data[entry.start : entry.end])
        size += entry.size
        if size > _BATCH_BYTES:
            sql_stream.execute(cr, b"".join(held))
            held, size = [], 0
    sql_stream.execute(cr, b"".join(held))


@contextlib.contextmanager
def _session(
    settings: Settings, db: str, head: bytes = b""
) -> Iterator[psycopg2.extensions.cursor]:
    """A loading session (no WAL flush waits); head is the dump's preamble (its SETs)."""
    with connect(settings, db, autocommit=False) as conn, conn.cursor() as cr:
        cr.execute(pgtools.SCRATCH_SESSION)
        sql_stream.execute(cr, head)
        yield cr


class _Schedule:
    """What a loading connection takes next: the foreign keys whose two tables are loaded (one
    connection at a time: two streams adding a->b and b->a would deadlock), else the next
    table's job. A foreign key then runs while other tables still load, instead of all of
    them on one connection at the end with the other cores idle."""

    def __init__(self, jobs: list[Job], foreign_keys: list[ForeignKey]) -> None:
        self._jobs = list(reversed(jobs))  # popped from the end: biggest first
        self._foreign_keys = list(foreign_keys)
        self._loading = {job.table for job in jobs}  # tables whose job has not committed
        self._keys_taken = False
        self._changed = threading.Condition()
        self._failed = False

    def take(self) -> Job | list[Entry] | None:
        """A job, a batch of foreign keys, or None: nothing left for this connection."""
        with self._changed:
            while not self._failed:
                if not self._keys_taken:
                    ready: list[ForeignKey] = []
                    waiting: list[ForeignKey] = []
                    for fk in self._foreign_keys:
                        (waiting if fk.tables & self._loading else ready).append(fk)
                    if ready:
                        self._foreign_keys = waiting
                        self._keys_taken = True
                        return [fk.entry for fk in ready]
                if self._jobs:
                    return self._jobs.pop()
                if not self._foreign_keys:
                    return None
                self._changed.wait()  # for a table another connection loads, or the keys
            return None

    def done(self, work: Job | list[Entry]) -> None:
        with self._changed:
            if isinstance(work, Job):
                self._loading.discard(work.table)
            else:
                self._keys_taken = False
            self._changed.notify_all()

    def fail(self) -> None:
        with self._changed:
            self._failed = True
            self._changed.notify_all()


def _run_jobs(
    settings: Settings, db: str, data: mmap.mmap, head: bytes, steps: Plan, n: int
) -> None:
    """The jobs and foreign keys over n connections, each committed on its own; the first
    error cancels the other connections' statements and is raised (not their cancellations)."""
    schedule = _Schedule(steps.jobs, steps.foreign_keys)
    errors: list[BaseException] = []
    conns: list[psycopg2.extensions.connection] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            with _session(settings, db, head) as cr:
                # n connections already keep the cores busy: no parallel workers for an index
                # build on top (8 alternated restores: median 3.74 s against 3.89 s with them)
                cr.execute("SET max_parallel_maintenance_workers = 0")
                with lock:
                    conns.append(cr.connection)
                while (task := schedule.take()) is not None:
                    _run(cr, data, task.entries if isinstance(task, Job) else task)
                    cr.connection.commit()
                    schedule.done(task)
        except BaseException as exc:
            schedule.fail()
            with lock:
                errors.append(exc)
                for conn in conns:
                    with contextlib.suppress(psycopg2.Error):
                        conn.cancel()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(min(n, len(steps.jobs)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        errors.sort(key=lambda e: isinstance(e, psycopg2.errors.QueryCanceled))
        raise errors[0]


def _finish(
    settings: Settings,
    db: str,
    cr: psycopg2.extensions.cursor,
    data: mmap.mmap,
    jobs: int,
    ran: tuple[int, list[Entry]] | None = None,
) -> None:
    """Load the mapped dump on cr (one stream) or over `jobs` connections. `ran`: the table of
    contents of the schema that already ran on cr, uncommitted (only the rest is read)."""
    if ran:
        preamble, schema = ran
        done = schema[-1].end
        entries = schema + table_of_contents(data, done)[1]
    else:
        (preamble, entries), done = table_of_contents(data), 0
    steps = plan(data, entries) if jobs > 1 else None
    if steps is None:
        sql_stream.run(cr, sql_stream.Source(_Rows(data, done, len(data))))
        cr.connection.commit()
        return
    first = [] if ran else [Entry(0, preamble, b"")]
    _run(cr, data, first + [e for e in steps.schema if e.start >= done])
    cr.connection.commit()  # the tables must be seen by the jobs' connections
    _run_jobs(settings, db, data, data[:preamble], steps, jobs)
    _run(cr, data, steps.tail)
    cr.connection.commit()


def load_file(settings: Settings, db: str, path: Path, *, jobs: int) -> None:
    """Load the plain dump at path into db, over `jobs` connections where the dump allows."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return
        with (
            mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data,
            sql_stream.translate_errors(db),
            _session(settings, db) as cr,
        ):
            _finish(settings, db, cr, data, jobs)


def load_stream(
    settings: Settings, db: str, stream: IO[bytes], *, spool_dir: Path, jobs: int
) -> None:
    """Load a plain dump read from stream (a zip member): a thread inflates it to an unnamed
    file in spool_dir while its schema, which comes first, already loads."""
    with (
        _Spool(stream, spool_dir) as spool,
        sql_stream.translate_errors(db, spool),
        _session(settings, db) as cr,
    ):
        ran = None
        schema = spool.schema()
        if schema is not None:
            toc = table_of_contents(schema)
            if toc[1] and not plain_dump.partitioned(
                schema, toc[1]
            ):  # pg_dump's, without partitions
                _run(cr, schema, [Entry(0, len(schema), b"")])
                ran = toc
        size = spool.wait()
        if size == 0:
            return
        with mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ) as data:
            _finish(settings, db, cr, data, jobs, ran)


class _Spool:
    """The stream copied by a thread to an unnamed file (gone with the process, whatever
    happens); readers wait for the bytes they need. A read error of the stream is kept in
    `error` and raised by wait()."""

    def __init__(self, stream: IO[bytes], directory: Path) -> None:
        self._stream = stream
        self._file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 (closed in __exit__)
        self.size = 0
        self.done = False
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._copy, daemon=True)

    def __enter__(self) -> _Spool:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()  # never leave it reading a stream its owner is about to close
        self._file.close()

    def fileno(self) -> int:
        return self._file.fileno()

    def _copy(self) -> None:
        fd = self._file.fileno()
        try:
            while not self._stop.is_set() and (chunk := self._stream.read(_SPOOL_CHUNK)):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
                with self._changed:
                    self.size += len(chunk)
                    self._changed.notify_all()
        except BaseException as exc:
            self.error = exc
        finally:
            with self._changed:
                self.done = True
                self._changed.notify_all()

    def _wait_past(self, size: int) -> tuple[int, bool]:
        with self._changed:
            self._changed.wait_for(lambda: self.done or self.size > size)
            return self.size, self.done

    def wait(self) -> int:
        """The whole size, once all is written; the stream's read error if there was one."""
        size, _ = self._wait_past(1 << 62)
        if self.error is not None:
            raise self.error
        return size

    def schema(self) -> bytes | None:
        """The dump up to its first data entry, as soon as that is written (None when the
        stream has none: not a pg_dump, or no rows)."""
        fd = self._file.fileno()
        scanned = 0
        while True:
            size, done = self._wait_past(scanned + _SPOOL_CHUNK - 1)
            start = max(scanned - 512, 0)  # a header may straddle two reads
            window = os.pread(fd, size - start, start)
            for match in plain_dump.HEADER.finditer(window):
                if match["type"] in plain_dump.DATA_TYPES:
                    return os.pread(fd, start + match.start() + 1, 0)
            if done:
                return None
            scanned = size
