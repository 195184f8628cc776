"""What a plain pg_dump is made of: its table of contents and the plan of a parallel load.

Pure code over bytes (no connection, no file): postgres/plain_load.py runs the plan. pg_dump
writes a header before every object (`-- Name: X; Type: T; Schema: S; Owner: O`), so the file
splits into the table of contents a custom-format dump has; the plan then gives each table a
job (its rows, then the indexes and keys pg_dump wrote for it), ties each foreign key to the two
tables it joins, and leaves the rest, in the dump's order, for the end. A dump the plan could
get wrong (partitions, no pg_dump headers, not pg_dump's order) gets no plan: it loads in one
stream.
"""

from __future__ import annotations

import mmap
import re
from dataclasses import dataclass, field

# The 3-line header pg_dump writes before every TOC entry of a plain dump.
HEADER = re.compile(
    rb"\n--\n-- (?:Data for )?Name: [^\n]*?; Type: (?P<type>[^;\n]+); Schema: [^\n]*?; "
    rb"Owner: [^\n]*\n--\n"
)
COPY_END = b"\n\\.\n"
DATA_TYPES = {b"TABLE DATA", b"SEQUENCE SET", b"BLOBS", b"BLOB DATA", b"LARGE OBJECT DATA"}
TABLE_POST = (b"INDEX", b"CONSTRAINT")  # built by their table's job
_NAME = rb'(?:"(?:[^"]|"")+"|[^\s".(]+)'
_QUALIFIED = _NAME + rb"(?:\." + _NAME + rb")?"
_TABLE_OF = {
    b"TABLE DATA": re.compile(rb"^COPY (" + _QUALIFIED + rb") ", re.M),
    b"CONSTRAINT": re.compile(
        rb"^ALTER TABLE (?:ONLY )?(" + _QUALIFIED + rb")\s+ADD CONSTRAINT", re.M
    ),
    b"INDEX": re.compile(
        rb"^CREATE (?:UNIQUE )?INDEX " + _NAME + rb" ON (?:ONLY )?(" + _QUALIFIED + rb") ", re.M
    ),
}
# A foreign key's table and the table it references, as the dump's COPY statements name them.
_FOREIGN_KEY = re.compile(
    rb"^ALTER TABLE (?:ONLY )?("
    + _QUALIFIED
    + rb")\s+ADD CONSTRAINT "
    + _NAME
    + rb" FOREIGN KEY \([^)]*\) REFERENCES ("
    + _QUALIFIED
    + rb")\(",
    re.M,
)
# Partitions: rows copied through the root land in other tables, and an index on a partitioned
# table builds the partitions' own; per-table jobs would cross (such dumps load in one stream).
# Odoo's own inheritance (ir_act_* INHERITS ir_actions) does not: each table keeps its rows and
# indexes, and ALTER TABLE ONLY touches one table.
_CROSSING = re.compile(rb"\bPARTITION (?:OF|BY)\b|\bATTACH PARTITION\b")


@dataclass(frozen=True)
class Entry:
    """A TOC entry: bytes [start, end) of the file."""

    start: int
    end: int
    type: bytes

    @property
    def size(self) -> int:
        return self.end - self.start


def table_of_contents(data: bytes | mmap.mmap, start: int = 0) -> tuple[int, list[Entry]]:
    """(length of the preamble, entries) of a plain dump; no entries without pg_dump headers."""
    entries: list[Entry] = []
    first: int | None = None
    match = HEADER.search(data, max(start - 1, 0))
    while match:
        begin = match.start() + 1
        if first is None:
            first = begin
        body = match.end()
        if match["type"] == b"TABLE DATA":
            copy = data.find(b"\nCOPY ", body - 1)
            if copy != -1 and not HEADER.search(data, body - 1, copy + 1):
                # COPY rows are data: a row may look like a header; skip to the end marker
                end_copy = data.find(COPY_END, copy)
                body = end_copy + len(COPY_END) if end_copy != -1 else len(data)
        nxt = HEADER.search(data, body - 1)
        end = nxt.start() + 1 if nxt else len(data)
        entries.append(Entry(begin, end, match["type"]))
        match = nxt
    return (first if first is not None else len(data)), entries


@dataclass(frozen=True)
class Job:
    """A table's rows, then its indexes and keys (table: as the dump's statements name it)."""

    table: bytes
    entries: list[Entry]

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)


@dataclass(frozen=True)
class ForeignKey:
    """An ADD FOREIGN KEY between two tables that have jobs: it may run once both are loaded."""

    entry: Entry
    tables: frozenset[bytes]


@dataclass
class Plan:
    """What runs where: the schema, the per-table jobs and the foreign keys between their
    tables, then the rest in one stream."""

    schema: list[Entry]
    jobs: list[Job] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    tail: list[Entry] = field(default_factory=list)


def plan(data: bytes | mmap.mmap, entries: list[Entry]) -> Plan | None:
    """The parallel plan of a dump, or None when it must load in one stream."""
    data_at = [i for i, e in enumerate(entries) if e.type in DATA_TYPES]
    if not data_at:
        return None
    first, last = data_at[0], data_at[-1]
    schema, rows, post = entries[:first], entries[first : last + 1], entries[last + 1 :]
    if any(e.type not in DATA_TYPES for e in rows):
        return None  # not pg_dump's order (schema, data, post-data)
    if partitioned(data, schema):
        return None
    jobs: dict[bytes, list[Entry]] = {}
    tail: list[Entry] = []
    for entry in rows + post:
        pattern = _TABLE_OF.get(entry.type)
        found = pattern.search(data, entry.start, entry.end) if pattern else None
        if found:
            jobs.setdefault(found.group(1), []).append(entry)
        elif entry.type in DATA_TYPES:
            jobs.setdefault(b"\0" + entry.type, []).append(entry)  # sequence values, blobs
        elif entry.type in TABLE_POST:
            return None  # an index or key whose table we cannot tell
        else:
            tail.append(entry)
    biggest_first = sorted(
        (Job(table, job) for table, job in jobs.items()), key=lambda job: job.size, reverse=True
    )
    foreign_keys = []
    for entry in tail:
        found = (
            _FOREIGN_KEY.search(data, entry.start, entry.end)
            if entry.type == b"FK CONSTRAINT"
            else None
        )
        if found and found.group(1) in jobs and found.group(2) in jobs:
            foreign_keys.append(ForeignKey(entry, frozenset(found.group(1, 2))))
    ahead = {fk.entry for fk in foreign_keys}
    return Plan(schema, biggest_first, foreign_keys, [e for e in tail if e not in ahead])


def partitioned(data: bytes | mmap.mmap, schema: list[Entry]) -> bool:
    return any(_CROSSING.search(data, e.start, e.end) for e in schema)
