"""Loading a plain-SQL file (a .sql restore) the way pg_restore -j loads a custom
one: schema first, then the tables' data over several connections, then indexes and constraints
built in parallel, then the rest in the dump's order.

psql reads a plain dump in one stream on one core; pg_dump writes a header before every object
(`-- Name: X; Type: T; Schema: S; Owner: O`, `-- Data for Name: ...`), so the file splits into the
same table of contents a custom-format dump has; a big table's rows are split over several COPYs
too (pg_restore cannot do that). Without those headers (a hand-written .sql) the file is loaded
in one stream as before. The database is a scratch one nobody uses yet (dropped on any failure):
schema and data streams run as one transaction each, and none waits for WAL flushes.
"""

from __future__ import annotations

import contextlib
import mmap
import re
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import tools

# The 3-line header pg_dump writes before every TOC entry of a plain dump.
_HEADER = re.compile(
    rb"\n--\n-- (?:Data for )?Name: [^\n]*?; Type: (?P<type>[^;\n]+); Schema: [^\n]*?; "
    rb"Owner: [^\n]*\n--\n"
)
_COPY_END = b"\n\\.\n"
DATA_TYPES = {b"TABLE DATA", b"SEQUENCE SET", b"BLOBS", b"LARGE OBJECT", b"MATERIALIZED VIEW DATA"}
PARALLEL_POST = (b"INDEX", b"CONSTRAINT")  # need only their table: built side by side


@dataclass(frozen=True)
class Entry:
    """A TOC entry's bytes [start, end) of the file; a part of a big table's data also carries
    its own COPY line (prefix) and end marker (suffix)."""

    start: int
    end: int
    type: bytes
    prefix: bytes = b""
    suffix: bytes = b""

    @property
    def size(self) -> int:
        return self.end - self.start


SPLIT_BYTES = 8 * 1024 * 1024  # a table's rows above this are loaded by several connections


def split_data(data: bytes | mmap.mmap, entry: Entry, parts: int) -> list[Entry]:
    """A big table's COPY as `parts` COPYs of consecutive rows (tables have no index yet while
    their data loads, so the parts go in side by side); other entries as they are."""
    if entry.type != b"TABLE DATA" or entry.size < SPLIT_BYTES or parts < 2:
        return [entry]
    copy = data.find(b"COPY ", entry.start, entry.end)
    if copy == -1:
        return [entry]
    rows = data.find(b"\n", copy, entry.end) + 1
    end = data.find(_COPY_END, rows - 1, entry.end)
    if rows == 0 or end == -1:
        return [entry]
    end += 1  # the last row's newline belongs to the rows
    copy_line = data[copy:rows]
    out: list[Entry] = []
    start = rows
    for i in range(1, parts + 1):
        cut = end if i == parts else data.find(b"\n", rows + (end - rows) * i // parts) + 1
        if cut <= start or cut > end:
            continue
        out.append(Entry(start, cut, entry.type, prefix=copy_line, suffix=b"\\.\n"))
        start = cut
    return out or [entry]


def table_of_contents(data: bytes | mmap.mmap) -> tuple[int, list[Entry]]:
    """(length of the preamble, entries) of a plain dump; no entries without pg_dump headers."""
    entries: list[Entry] = []
    pos = 0
    first: int | None = None
    match = _HEADER.search(data, pos)
    while match:
        start = match.start() + 1
        if first is None:
            first = start
        body = match.end()
        if match["type"] == b"TABLE DATA":
            copy = data.find(b"\nCOPY ", body - 1)
            nxt = _HEADER.search(data, body)
            if copy != -1 and (nxt is None or copy < nxt.start()):
                # COPY rows are data: a row may look like a header; skip to the end marker
                end_copy = data.find(_COPY_END, copy)
                body = end_copy + len(_COPY_END) if end_copy != -1 else len(data)
        nxt = _HEADER.search(data, body - 1)
        end = nxt.start() + 1 if nxt else len(data)
        entries.append(Entry(start, end, match["type"]))
        match = nxt
    return (first if first is not None else len(data)), entries


def phases(entries: list[Entry]) -> list[tuple[bool, list[Entry]]]:
    """[(parallel?, entries)] in load order: schema, data, indexes/constraints, foreign keys,
    the rest (triggers, comments, grants ...) as the dump orders it.

    Foreign keys go in one stream: ADD FOREIGN KEY locks both of its tables, so two streams
    adding a->b and b->a at the same moment deadlock and PostgreSQL aborts one (pg_restore -j
    tracks those locks; here the whole phase takes ~0.2 s for an Odoo tenant anyway)."""
    data_at = [i for i, e in enumerate(entries) if e.type in DATA_TYPES]
    if not data_at:
        return [(False, entries)]
    pre, data, post = (
        entries[: data_at[0]],
        entries[data_at[0] : data_at[-1] + 1],
        entries[data_at[-1] + 1 :],
    )
    return [
        (False, pre),
        (True, data),
        (True, [e for e in post if e.type in PARALLEL_POST]),
        (False, [e for e in post if e.type == b"FK CONSTRAINT"]),
        (False, [e for e in post if e.type not in (*PARALLEL_POST, b"FK CONSTRAINT")]),
    ]


def share(entries: list[Entry], workers: int) -> list[list[Entry]]:
    """Biggest first to the least loaded worker (the classic greedy balance)."""
    loads = [0] * workers
    out: list[list[Entry]] = [[] for _ in range(workers)]
    for entry in sorted(entries, key=lambda e: e.size, reverse=True):
        i = loads.index(min(loads))
        out[i].append(entry)
        loads[i] += entry.size
    return [sorted(chunk, key=lambda e: e.start) for chunk in out if chunk]


def load_file(settings: Settings, db: str, path: Path, *, jobs: int) -> None:
    """Load the plain dump at path into db, in parallel where the dump allows it."""
    tools.require_restrict()
    with open(path, "rb") as fh:
        if path.stat().st_size == 0:
            return
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            preamble, entries = table_of_contents(data)
            if jobs < 2 or sum(e.type in DATA_TYPES for e in entries) < 2:
                fh.seek(0)
                tools.psql_load(settings, db, fh)
                return
            head = data[:preamble]
            for parallel, group in phases(entries):
                if not group:
                    continue
                if parallel:
                    group = [part for e in group for part in split_data(data, e, jobs)]
                chunks = share(group, jobs) if parallel else [group]
                # One transaction per stream saves a commit per statement, but ALTER TABLE ...
                # ADD CONSTRAINT locks its tables: parallel index/constraint streams autocommit
                # each statement, or two streams would deadlock on each other's locks.
                in_one = not parallel or group[0].type in DATA_TYPES
                _run_streams(settings, db, data, head, chunks, single_transaction=in_one)


def _run_streams(
    settings: Settings,
    db: str,
    data: mmap.mmap,
    head: bytes,
    chunks: list[list[Entry]],
    *,
    single_transaction: bool,
) -> None:
    """One psql per chunk, all at once; the first failure stops the others."""
    procs = [tools.psql_popen(settings, db, single_transaction=single_transaction) for _ in chunks]
    errors: list[BaseException] = []

    def feed(proc: subprocess.Popen[bytes], chunk: list[Entry]) -> None:
        guard = tools.SqlGuard()
        assert proc.stdin is not None
        try:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(
                    guard.header() + tools.SCRATCH_SESSION + guard.feed(head) + guard.finish()
                )
                for piece in _pieces(data, chunk):
                    proc.stdin.write(guard.feed(piece))
                proc.stdin.write(guard.finish())
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=feed, args=(p, c), daemon=True)
        for p, c in zip(procs, chunks, strict=True)
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        for proc in procs:
            tools.wait(proc, settings)
    except BaseException:
        for proc in procs:
            tools.kill(proc)
        raise


def _pieces(data: mmap.mmap, chunk: Iterable[Entry], size: int = 1 << 20) -> Iterable[bytes]:
    for entry in chunk:
        if entry.prefix:
            yield entry.prefix
        for pos in range(entry.start, entry.end, size):
            yield data[pos : min(pos + size, entry.end)]
        if entry.suffix:
            yield entry.suffix
