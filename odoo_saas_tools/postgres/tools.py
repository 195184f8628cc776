"""The PostgreSQL client programs (pg_dump, pg_restore, psql) driven for backups and restores.

Every call goes through execute with settings.libpq_env(): the password travels in the
environment, never in argv. Dumps are `--no-owner` like Odoo's, so a restore by any role works.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import IO, Any

from odoo_saas_tools.core import execute
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
    stdout: IO[Any] | int | None = execute.PIPE,
    compress: int | None = None,
) -> execute.Process:
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
        stdout = execute.DEVNULL
    return _start(settings, db, argv, stdin=execute.DEVNULL, stdout=stdout)


def _start(
    settings: Settings,
    db: str,
    argv: list[str],
    *,
    stdin: IO[Any] | int | None,
    stdout: IO[Any] | int | None,
) -> execute.Process:
    # stderr goes to a file (execute.popen's way), not a pipe: a chatty tool must never block
    # on a full pipe while we are busy feeding or draining its other end.
    return execute.popen(
        argv, env=_env(settings, db), secrets=settings.secret_values(), stdin=stdin, stdout=stdout
    )


def wait(proc: execute.Process, settings: Settings) -> None:
    """Wait for a started tool; CommandError with its error line when it failed."""
    execute.wait_checked(proc, settings.secret_values(), error_lines=_error_lines)


def _error_lines(stderr: bytes) -> bytes:
    """The line that says what went wrong: psql follows its ERROR with LINE/^ context lines."""
    lines = stderr.splitlines()
    for marker in (b"ERROR:", b"FATAL:", b"error:"):
        found = [ln for ln in lines if marker in ln]
        if found:
            return found[0]
    return stderr[-65536:]


def kill(proc: execute.Process) -> None:
    """Stop a started tool after a failure elsewhere (and reap it)."""
    execute.kill(proc)


def psql_popen(
    settings: Settings,
    db: str,
    *,
    stdin: IO[Any] | int | None = execute.PIPE,
) -> execute.Process:
    """Start psql loading SQL from stdin, stopping at the first error (in one transaction).

    Odoo's own restore runs psql without ON_ERROR_STOP and silently keeps a half-loaded
    database; here any SQL error fails the restore and rolls it back.
    """
    argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", "-"]
    return _start(settings, db, argv, stdin=stdin, stdout=execute.DEVNULL)


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

# pg_dump's own `\\restrict KEY` / `\\unrestrict KEY` lines (psql meta-commands, 2025 security
# releases): dropped before the SQL reaches PostgreSQL (postgres/sql_stream.py), where any
# other backslash command is a syntax error. No backup's SQL ever goes through psql.
DUMP_RESTRICT_LINE = rb"\\(?:un)?restrict [A-Za-z0-9]+"  # on a line of its own
