"""Loading a backup file into an empty scratch database and its filestore directory.

The building block of `db restore` and of `backup verify --restore-test`. The database load runs
beside the filestore extraction: plain dumps load over several connections
(postgres/plain_load.py) or in one stream, dump-format backups with parallel pg_restore; the
SQL read stops past the bound a restore may load (load_limit).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from odoo_saas_tools.backups import archive, load_limit
from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.output import Progress
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import plain_load, sql_stream
from odoo_saas_tools.postgres import tools as pgtools


def load_backup(
    settings: Settings,
    db: str,
    path: Path,
    kind: str,
    fs_dir: Path,
    jobs: int | None,
    progress: bool,
    *,
    reuse: archive.FileReuse | None = None,
    limit: load_limit.Bound | None = None,
) -> int:
    """Load `path` (of `kind`, see archive.detect) into the existing empty database db and
    extract its filestore into fs_dir, in parallel; returns the number of files extracted.
    Files `reuse` finds on disk are hard-linked instead of extracted; the SQL read stops past
    `limit` (the caller also watches the database: load_limit.watch).

    The building block of restore and of `backup verify --restore` (scratch loads).
    """
    jobs = jobs or pgtools.default_jobs()
    limit = limit or load_limit.Bound(None)
    if kind == archive.PG_CUSTOM:
        pgtools.pg_restore(settings, db, path, jobs=jobs)
        return 0
    if kind == archive.SQL:
        plain_load.load_file(settings, db, path, jobs=jobs)
        return 0
    if kind == archive.SQL_GZ:
        # inflated straight into the server, as a zip's dump.sql: nothing is written to disk
        # first, and one stream beats the parallel loader on this dump (bench/README.md)
        try:
            with open(path, "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as src:
                sql = load_limit.Stream(src, limit, path.name, compressed=raw.tell)
                sql_stream.load_stream(settings, db, sql)
        except (OSError, EOFError, zlib.error) as exc:
            raise SaasError(f"{path.name} is not a valid gzip file: {exc}") from exc
        return 0
    return _load_zip(settings, db, path, kind, fs_dir, jobs, progress, reuse, limit)


class _Worker(threading.Thread):
    """Runs the database load beside the filestore extraction and keeps its exception."""

    def __init__(self, target: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self._work = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except BaseException as exc:
            self.error = exc


# What zipfile raises for a damaged member (bad CRC, broken deflate stream, cut short).
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError)


class _Stopped(Exception):
    """The load failed: the filestore extraction stops early."""


def _lower_priority() -> None:
    """Nice the calling thread (Linux: per thread) so it yields CPU to the database load."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def _load_zip(
    settings: Settings,
    db: str,
    path: Path,
    kind: str,
    fs_dir: Path,
    jobs: int,
    progress: bool,
    reuse: archive.FileReuse | None,
    limit: load_limit.Bound,
) -> int:
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(open(path, "rb"))
        try:
            zf = stack.enter_context(zipfile.ZipFile(raw))
        except zipfile.BadZipFile as exc:
            raise SaasError(f"{path.name} is not a readable zip file: {exc}") from exc
        if reuse is not None:
            reuse.opened(os.fstat(raw.fileno()))  # the very file extracted
        members = [i for i in zf.infolist() if archive.safe_member(i.filename)]
        load = _database_load(settings, db, path, kind, zf, stack, jobs, reuse, limit)
        bar = Progress(
            f"restore {path.name}", total=len(members), enabled=None if progress else False
        )
        stop = threading.Event()
        extracted: list[int] = []

        def advance(n: int) -> None:
            if stop.is_set():
                raise _Stopped
            bar.advance(n)

        def extract() -> None:
            _lower_priority()  # the database load is the critical path: let it have the CPU
            fs_dir.mkdir(parents=True, exist_ok=True)
            extracted.append(archive.extract_filestore(zf, fs_dir, advance, reuse))

        worker = _Worker(extract)
        worker.start()
        try:
            load()
        except _DAMAGED as exc:
            stop.set()
            raise SaasError(f"{path.name} is damaged: {exc}") from exc
        except BaseException:
            stop.set()
            raise
        finally:
            worker.join()
        if isinstance(worker.error, _DAMAGED):
            raise SaasError(f"{path.name} is damaged: {worker.error}") from worker.error
        if worker.error is not None:
            raise worker.error
        count = extracted[0]
        bar.finish()
    return count


def _database_load(
    settings: Settings,
    db: str,
    path: Path,
    kind: str,
    zf: zipfile.ZipFile,
    stack: contextlib.ExitStack,
    jobs: int,
    reuse: archive.FileReuse | None,
    limit: load_limit.Bound,
) -> Callable[[], None]:
    """The zip's database load, to run beside the filestore's extraction."""
    if kind == archive.ZIP_PLAIN:
        db_jobs = _database_jobs(zf, jobs, reuse)
        spool = db_jobs > 1 and archive.has_room_for_dump(zf, settings.data_dir)

        def load_plain() -> None:
            # Over several connections from a spooled copy (plain_load) when the data volume
            # has room for it, else in one stream straight from the zip
            with zipfile.ZipFile(path) as own, own.open(archive.PLAIN_MEMBER) as member:
                fh = load_limit.Stream(member, limit, path.name)
                if spool:
                    plain_load.load_stream(
                        settings, db, fh, spool_dir=settings.data_dir, jobs=db_jobs
                    )
                else:
                    sql_stream.load_stream(settings, db, fh)

        return load_plain
    dump = Path(stack.enter_context(_scratch_dir(settings))) / archive.CUSTOM_MEMBER
    archive.extract_member(zf, archive.CUSTOM_MEMBER, dump)
    return lambda: pgtools.pg_restore(settings, db, dump, jobs=jobs)


def _database_jobs(zf: zipfile.ZipFile, jobs: int, reuse: archive.FileReuse | None) -> int:
    """Connections for the database: one core stays with the filestore extraction when it
    inflates more than the dump. Measured on 2 cores (bench/README.md, seventh pass): Odoo's zip
    with no files on disk took 6.1 s loaded in parallel against 4.7-5.0 s in one stream; with
    the files hard-linked from a filestore on disk, the parallel load is ~10 % faster."""
    dump = zf.getinfo(archive.PLAIN_MEMBER).file_size
    if jobs > 1 and archive.bytes_to_extract(zf, reuse) > dump:
        return jobs - 1
    return jobs


@contextlib.contextmanager
def _scratch_dir(settings: Settings) -> Iterator[str]:
    """A private temporary directory on the data volume (room for a dump)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=settings.data_dir) as tmpdir:
        yield tmpdir
