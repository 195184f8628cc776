"""The PostgreSQL client programs (pg_dump, pg_restore, psql) driven for backups and restores.

Every call goes through execute with settings.libpq_env(): the password travels in the
environment, never in argv. Dumps are `--no-owner` like Odoo's, so a restore by any role works.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import secrets
import subprocess
import tempfile
from pathlib import Path
from typing import IO, Any

from odoo_saas_tools.core import execute
from odoo_saas_tools.core.errors import CommandError
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)

_CHUNK = 1024 * 1024


def _env(settings: Settings, db: str) -> dict[str, str]:
    return settings.libpq_env(db)


def pg_dump_popen(
    settings: Settings,
    db: str,
    *,
    fmt: str = "plain",
    snapshot: str | None = None,
    file: Path | None = None,
    stdout: IO[Any] | int | None = subprocess.PIPE,
    compress: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start `pg_dump --no-owner` (plain or custom format) of db; the caller waits with wait().

    With `snapshot` the dump sees exactly what the exporting transaction sees, so the list of
    attachments read in that transaction matches the dump.
    """
    argv: list[str] = ["pg_dump", "--no-owner", f"--format={fmt}"]
    if snapshot:
        argv.append(f"--snapshot={snapshot}")
    if compress is not None:
        argv.append(f"--compress={compress}")
    if file is not None:
        argv.append(f"--file={file}")
        stdout = subprocess.DEVNULL
    return _start(settings, db, argv, stdin=subprocess.DEVNULL, stdout=stdout)


def _start(settings: Settings, db: str, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    # stderr goes to a file, not a pipe: a chatty tool must never block on a full pipe while
    # we are busy feeding or draining its other end.
    errfile = tempfile.TemporaryFile()  # noqa: SIM115 - closed by wait() or kill()
    try:
        proc = execute.popen(
            argv, env=_env(settings, db), secrets=settings.secret_values(), stderr=errfile, **kwargs
        )
    except BaseException:
        errfile.close()
        raise
    proc.errfile = errfile  # type: ignore[attr-defined]
    return proc


def wait(proc: subprocess.Popen[bytes], settings: Settings) -> None:
    """Wait for a started tool; CommandError with its last stderr line when it failed."""
    errfile = proc.errfile  # type: ignore[attr-defined]
    try:
        returncode = proc.wait()
        if returncode != 0:
            errfile.seek(0)
            raise CommandError(
                execute.describe_failure(
                    proc.args,  # type: ignore[arg-type]
                    returncode,
                    _error_lines(errfile.read()),
                    settings.secret_values(),
                )
            )
    finally:
        errfile.close()


def _error_lines(stderr: bytes) -> bytes:
    """The line that says what went wrong: psql follows its ERROR with LINE/^ context lines."""
    lines = stderr.splitlines()
    for marker in (b"ERROR:", b"FATAL:", b"error:"):
        found = [ln for ln in lines if marker in ln]
        if found:
            return found[0]
    return stderr[-65536:]


def kill(proc: subprocess.Popen[bytes]) -> None:
    """Stop a started tool after a failure elsewhere (and reap it)."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    proc.errfile.close()  # type: ignore[attr-defined]


def psql_popen(
    settings: Settings,
    db: str,
    *,
    stdin: IO[Any] | int | None = subprocess.PIPE,
    single_transaction: bool = True,
) -> subprocess.Popen[bytes]:
    """Start psql loading SQL from stdin, stopping at the first error (in one transaction).

    Odoo's own restore runs psql without ON_ERROR_STOP and silently keeps a half-loaded
    database; here any SQL error fails the restore and rolls it back.
    """
    argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"]
    if single_transaction:
        argv.insert(-2, "--single-transaction")
    return _start(settings, db, argv, stdin=stdin, stdout=subprocess.DEVNULL)


def pg_restore(settings: Settings, db: str, dump: Path, *, jobs: int | None = None) -> None:
    """Load a custom-format dump into db with `jobs` parallel workers, stopping at any error."""
    argv: list[str | os.PathLike[str]] = [
        "pg_restore",
        "--no-owner",
        "--exit-on-error",
        f"--dbname={db}",
    ]
    if jobs and jobs > 1:
        argv.append(f"--jobs={jobs}")
    else:
        argv.append("--single-transaction")
    argv.append(Path(dump).absolute())  # never mistaken for an option
    execute.run(argv, env=_env(settings, db), secrets=settings.secret_values())


def pg_restore_list(settings: Settings, dump: Path) -> bytes:
    """The table of contents of a custom-format dump (fails when the file is not one)."""
    proc = execute.run(
        ["pg_restore", "--list", Path(dump).absolute()], env=settings.libpq_env(), capture=True
    )
    return proc.stdout


def default_jobs() -> int:
    """Parallel pg_restore workers: one per CPU, at least 1, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


# --- loading SQL files that may come from anyone ------------------------------------------------
# Settings of every session loading a backup: safe for a database nobody uses yet (a crash loses
# only the scratch, which is dropped anyway).
SCRATCH_SESSION = b"SET synchronous_commit = off;\nSET maintenance_work_mem = '256MB';\n"

# psql runs backslash meta-commands found in its input (`\\! cmd` runs a shell command), so a
# .sql file could execute commands here (a zip's dump.sql and a .sql.gz never reach psql:
# postgres/sql_stream.py). PostgreSQL's psql (since
# 13.22/14.19/15.14/16.10/17.6) has `\\restrict KEY`: afterwards every meta-command is refused
# until `\\unrestrict KEY`. We start the stream with our own random key and drop the file's own
# (pg_dump's) `\\restrict`/`\\unrestrict` lines, so nothing in the file can lift it.
DUMP_RESTRICT_LINE = rb"\\(?:un)?restrict [A-Za-z0-9]+"  # pg_dump's own, on a line of its own
_RESTRICT = re.compile(DUMP_RESTRICT_LINE + rb"\s*")
_RESTRICT_VERSIONS = {13: 22, 14: 19, 15: 14, 16: 10, 17: 6}


@functools.cache
def psql_supports_restrict() -> bool:
    """Whether the installed psql knows \\restrict (the 2025 security releases and later)."""
    out = execute.run(["psql", "--version"], capture=True).stdout.decode()
    match = re.search(r"(\d+)\.(\d+)", out)
    if not match:
        return False
    major, minor = int(match[1]), int(match[2])
    return major >= 18 or minor >= _RESTRICT_VERSIONS.get(major, 10**6)


class SqlGuard:
    """Filters a SQL stream for psql: our \\restrict first, the file's own restrict lines out.

    COPY data is passed through untouched (a data line is never mistaken for a command).
    psql itself refuses every other meta-command, wherever it stands on a line.
    """

    def __init__(self) -> None:
        self.key = secrets.token_hex(24).encode()
        self.in_copy = False
        self.carry = b""

    def header(self) -> bytes:
        return b"\\restrict " + self.key + b"\n"

    def feed(self, chunk: bytes) -> bytes:
        data = self.carry + chunk
        cut = data.rfind(b"\n") + 1
        self.carry = data[cut:]
        return self._filter(data[:cut])

    def finish(self) -> bytes:
        tail, self.carry = self.carry, b""
        return self._filter(tail + b"\n") if tail else b""

    def _filter(self, data: bytes) -> bytes:
        """data holds whole lines; plain bytes.find keeps this at memchr speed."""
        out: list[bytes] = []
        pos, size = 0, len(data)
        while pos < size:
            if self.in_copy:
                start = _line_start(data, b"\\.\n", pos)
                if start < 0:
                    out.append(data[pos:])
                    break
                out.append(data[pos : start + 3])
                pos = start + 3
                self.in_copy = False
                continue
            candidates = (_line_start(data, b"COPY ", pos), _line_start(data, b"\\", pos))
            found = [i for i in candidates if i >= 0]
            if not found:
                out.append(data[pos:])
                break
            start = min(found)
            end = data.find(b"\n", start)
            line = data[start:end]
            if line.startswith(b"COPY "):
                self.in_copy = line.endswith(b" FROM stdin;")
            elif _RESTRICT.fullmatch(line):
                out.append(data[pos:start])  # the line goes, its newline stays (line numbers)
                pos = end
                continue
            out.append(data[pos : end + 1])
            pos = end + 1
        return b"".join(out)


def _line_start(data: bytes, prefix: bytes, pos: int) -> int:
    """Index of the first line at or after pos (a line start) beginning with prefix, or -1."""
    if data.startswith(prefix, pos):
        return pos
    found = data.find(b"\n" + prefix, pos)
    return found + 1 if found >= 0 else -1


def require_restrict() -> None:
    if not psql_supports_restrict():
        # A filter of our own cannot see every place psql finds a meta-command (mid-line after
        # a statement, inside what looks like a comment or COPY): without \\restrict, no SQL.
        raise CommandError(
            "refusing to load SQL: this psql cannot restrict meta-commands (\\restrict needs "
            "postgresql-client 13.22, 14.19, 15.14, 16.10, 17.6 or later); upgrade it, or restore "
            "a dump-format backup"
        )


def psql_load(settings: Settings, db: str, source: IO[bytes]) -> None:
    """Load a SQL stream into db with psql: one transaction, stop at the first error, and no
    meta-command from the file ever runs. A psql that stopped on an error is reported (with
    its ERROR line), not the broken pipe."""
    require_restrict()
    guard = SqlGuard()
    proc = psql_popen(settings, db)
    assert proc.stdin is not None
    try:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(guard.header())
            while chunk := source.read(_CHUNK):
                proc.stdin.write(guard.feed(chunk))
            proc.stdin.write(guard.finish())
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
    except BaseException:
        kill(proc)
        raise
    wait(proc, settings)
