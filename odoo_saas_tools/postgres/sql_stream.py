"""Loading a plain pg_dump stream (a zip's dump.sql, a .sql.gz) over one connection, without psql.

psql sends each of an Odoo dump's ~4,000 statements in its own round trip and waits for the
answer before the next; here all statements between two COPYs go to the server as one query and
each COPY's rows stream through the COPY protocol (10-20 % less time for an Odoo dump, see
bench/README.md). No psql meta-command can run: the text reaches PostgreSQL as SQL, where a
backslash command is a syntax error; only pg_dump's own `\\restrict`/`\\unrestrict` lines are
dropped. Like `psql -1 -v ON_ERROR_STOP=1`: one transaction, and the first error ends it with
nothing committed.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import IO

import psycopg2
import psycopg2.errors

from odoo_saas_tools.core.errors import SaasError, first_line
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import tools as pgtools
from odoo_saas_tools.postgres.connection import connect

_CHUNK = 1 << 20
_COPY = re.compile(rb"^COPY [^\n]+ FROM stdin;\n", re.M)
_DUMP_RESTRICT = re.compile(rb"^" + pgtools.DUMP_RESTRICT_LINE + rb"$", re.M)
_END = b"\\.\n"
FLUSH_BYTES = 16 << 20  # SQL held before it is sent (cut only between two pg_dump entries)
_ENTRY_CUT = b";\n\n--\n-- "


class DumpError(SaasError):
    """The stream is not a plain dump we load (a meta-command, COPY data cut short)."""


class Source:
    """The stream with a look-ahead buffer that always starts at a line start."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.buf = b""
        self.eof = False
        # psycopg2 turns an error of a read during COPY into its own QueryCanceled: the
        # stream's own error (a damaged zip or gzip) is kept to be raised instead
        self.error: BaseException | None = None

    def more(self) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.stream.read(_CHUNK)
        except Exception as exc:
            self.error = exc
            raise
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True


class _CopyRows:
    """File-like rows of one COPY for copy_expert: up to (not including) the `\\.` line."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.done = False

    def read(self, size: int = -1) -> bytes:
        src = self.source
        while not self.done:
            if src.buf.startswith(_END):  # no rows, or the end right after the last read
                src.buf = src.buf[len(_END) :]
                self.done = True
                break
            end = src.buf.find(b"\n" + _END)
            if end >= 0:
                rows, src.buf = src.buf[: end + 1], src.buf[end + 1 + len(_END) :]
                self.done = True
                return rows
            if len(src.buf) > _CHUNK:  # hand over all but a tail that may start the marker
                keep = src.buf.rfind(b"\n", 0, len(src.buf) - 1) + 1
                if keep > 0:
                    rows, src.buf = src.buf[:keep], src.buf[keep:]
                    return rows
            if not src.more():
                raise DumpError("the dump ends inside a table's COPY data: it is cut short")
        return b""


def load_stream(settings: Settings, db: str, stream: IO[bytes]) -> None:
    """Run the plain dump `stream` in db: one transaction, stopped at the first error."""
    source = Source(stream)
    with translate_errors(db, source), connect(settings, db, autocommit=False) as conn:
        with conn.cursor() as cr:
            cr.execute(pgtools.SCRATCH_SESSION)
            run(cr, source)
        conn.commit()


def run(cr: psycopg2.extensions.cursor, source: Source) -> None:
    """Send the statements of source in few queries, its COPY rows through COPY."""
    pending: list[bytes] = []
    held = 0
    while True:
        complete = len(source.buf) if source.eof else source.buf.rfind(b"\n") + 1
        found = _COPY.search(source.buf, 0, complete)
        cut = found.start() if found else complete
        if cut:
            text = source.buf[:cut]
            pending.append(text)
            held += len(text)
            source.buf = source.buf[cut:]
        if found:
            execute(cr, b"".join(pending))
            pending, held = [], 0
            statement = source.buf[: found.end() - found.start()]
            source.buf = source.buf[len(statement) :]
            cr.copy_expert(statement[:-2].decode(), _CopyRows(source), size=_CHUNK)
            continue
        if held > FLUSH_BYTES:
            pending, held = _flush_whole_entries(cr, pending)
        if not source.more():
            if source.buf:
                pending.append(source.buf)
                source.buf = b""
            execute(cr, b"".join(pending))
            return


@contextlib.contextmanager
def translate_errors(db: str, source: object = None) -> Iterator[None]:
    """PostgreSQL's errors of a load as one line naming the cause; a read error of the dump
    (a damaged zip or gzip, which psycopg2 reports as its own QueryCanceled) as itself."""
    try:
        yield
    except psycopg2.errors.SyntaxError as exc:
        if 'near "\\' in str(exc):
            raise DumpError(
                "the dump holds a psql meta-command (a backslash command), which is not SQL: "
                "nothing was restored"
            ) from exc
        raise SaasError(f"loading the dump into {db} failed: {first_line(exc)}") from exc
    except psycopg2.Error as exc:
        error = getattr(source, "error", None)  # a Source, or anything keeping a read error
        if error is not None:
            raise error from None
        raise SaasError(f"loading the dump into {db} failed: {first_line(exc)}") from exc


def _flush_whole_entries(cr: psycopg2.extensions.cursor, pending: list[bytes]) -> tuple:
    """Send what is held up to the last end of a pg_dump entry (bounded memory for dumps
    without COPY, e.g. --inserts); keep the rest."""
    text = b"".join(pending)
    cut = text.rfind(_ENTRY_CUT)
    if cut < 0:
        return [text], len(text)
    cut += 2  # after ";\n"
    execute(cr, text[:cut])
    return [text[cut:]], len(text) - cut


def execute(cr: psycopg2.extensions.cursor, sql: bytes) -> None:
    if b"restrict " in sql:  # the line goes, its newline stays (line numbers in errors)
        sql = _DUMP_RESTRICT.sub(b"", sql)
    if any(ln.strip() and not ln.lstrip().startswith(b"--") for ln in sql.splitlines()):
        cr.execute(sql)
