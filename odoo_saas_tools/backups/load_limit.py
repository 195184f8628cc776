"""How much a restore may load into PostgreSQL, whose disk every tenant shares.

The bound is RESTORE_MAX_DB_SIZE and, where this process can see PostgreSQL's disk
(postgres/disk.py), its free space less the margin the other tenants need (as for the data
volume, archive.check_room). A backup's SQL is anyone's, so the bound holds three ways:
- before anything is loaded, on what the backup declares: the inflated size of a zip's
  dump.sql (which also counts in the zip-bomb check) or db.dump, a .sql or dump file's size;
- while loading, on the SQL read (`Stream`): a zip's, a .sql.gz's or a restic snapshot's dump
  that passes the bound, or a .sql.gz inflating more than archive.MAX_RATIO times (a gzip
  bomb), stops the load;
- while loading, on the database itself (`watch`): a few bytes of SQL can write gigabytes
  (INSERT ... SELECT generate_series, a custom-format dump's compressed rows), so the scratch
  database's growth (past the ~7 MiB of an empty one) is polled and its sessions ended once it
  passes the bound; it is checked once more when the load has finished.
A stopped load fails the restore like any other error: the scratch database is dropped and
nothing is half-restored; the one-line error names the bound.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psycopg2
import psycopg2.errors
from psycopg2 import sql

from odoo_saas_tools.backups import archive
from odoo_saas_tools.core.errors import SaasError, first_line
from odoo_saas_tools.core.output import human_size
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import disk
from odoo_saas_tools.postgres.connection import connect, ident

log = logging.getLogger(__name__)

# How often the scratch database's size is read while it loads: it may pass the bound by what
# PostgreSQL writes meanwhile (a few tens of MiB here), which the free-space margin covers.
POLL_SECONDS = 0.25
RATIO_FLOOR = 1024**2  # a stream's first MiB is never a bomb (as for a zip's members)


class TooBig(SaasError):
    """The restore would load more than it may."""


@dataclass(frozen=True)
class Bound:
    size: int | None  # bytes a restore may load; None: no bound is known
    why: str = ""

    def text(self) -> str:
        return f"{human_size(self.size or 0)}, {self.why}"

    def check(self, size: int, what: str) -> None:
        """Refuse, before anything is loaded, a backup declaring more than the bound."""
        if self.size is not None and size > self.size:
            raise TooBig(
                f"{what} is {human_size(size)}, more than a restore may load "
                f"({self.text()}): nothing restored"
            )


def bound(settings: Settings, writes: int = 0) -> Bound:
    """What a restore may load now; `writes`: bytes it also writes on the data volume (its
    filestore), which count when PostgreSQL's disk is the same."""
    found: list[tuple[int, str]] = []
    if settings.restore_max_db_size > 0:
        found.append((settings.restore_max_db_size, "RESTORE_MAX_DB_SIZE"))
    pg = disk.data_disk(settings)
    if pg is not None:
        free = pg.free
        with contextlib.suppress(OSError):
            if os.stat(archive.existing(settings.data_dir)).st_dev == pg.device:
                free -= int(writes * archive.ROOM_MARGIN)
        room = max(0, int((free - archive.FREE_RESERVE) / archive.ROOM_MARGIN))
        found.append((room, f"PostgreSQL's free space on {pg.path} less a margin for the others"))
    if not found:
        return Bound(None)
    size, why = min(found)
    return Bound(size, why)


def declared(path: Path, kind: str) -> int:
    """The SQL (or dump) a backup says it holds, before anything is read; 0 when unknown."""
    if kind in (archive.ZIP_PLAIN, archive.ZIP_CUSTOM):
        member = archive.PLAIN_MEMBER if kind == archive.ZIP_PLAIN else archive.CUSTOM_MEMBER
        with zipfile.ZipFile(path) as zf:
            return zf.getinfo(member).file_size
    if kind in (archive.SQL, archive.PG_CUSTOM):
        return path.stat().st_size
    return 0  # a .sql.gz says nothing true of its size: its stream is counted


class Stream:
    """A dump's SQL as it is read, stopped past the bound; with `compressed` (the bytes of a
    gzip file read so far) also when it inflates like a bomb."""

    def __init__(
        self,
        stream: IO[bytes],
        limit: Bound,
        name: str,
        compressed: Callable[[], int] | None = None,
    ) -> None:
        self._stream = stream
        self._limit = limit
        self._name = name
        self._compressed = compressed
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.size += len(data)
        if self._limit.size is not None and self.size > self._limit.size:
            raise TooBig(
                f"{self._name}: its SQL passed what a restore may load ({self._limit.text()}): "
                "load stopped, nothing restored"
            )
        if self._compressed is not None and self.size > RATIO_FLOOR:
            packed = self._compressed()
            if self.size > archive.MAX_RATIO * max(packed, 1):
                raise TooBig(
                    f"{self._name} inflates {packed} bytes to more than {self.size} (more than "
                    f"{archive.MAX_RATIO}x): refusing a gzip bomb, nothing restored"
                )
        return data


@contextlib.contextmanager
def watch(settings: Settings, db: str, limit: Bound) -> Iterator[None]:
    """Keep db, which is being loaded inside the block, within limit (see the module's doc);
    settings: a role that may end the loading role's sessions (the tenants' role). One
    connection, one query every POLL_SECONDS."""
    if limit.size is None:
        yield
        return
    watcher = _Watcher(settings, db, limit.size)
    watcher.start()
    watcher.ready.wait()
    if watcher.failure:
        watcher.finish()
        raise SaasError(f"cannot read the size of {db}: {watcher.failure}")
    try:
        yield
    except BaseException as exc:
        watcher.finish()
        if watcher.size is not None:
            raise watcher.error(limit) from exc
        raise
    watcher.finish()
    if watcher.size is not None:
        raise watcher.error(limit)
    if not watcher.checked:  # never restore what could not be measured
        raise SaasError(f"cannot read the size of {db} while it loaded: {watcher.failure}")


class _Watcher(threading.Thread):
    def __init__(self, settings: Settings, db: str, allowed: int) -> None:
        super().__init__(daemon=True)
        self._settings = settings
        self._db = db
        self._allowed = allowed
        self._halt = threading.Event()
        self.ready = threading.Event()  # the size before the load is known (or cannot be)
        self.size: int | None = None  # the size it was stopped at
        self.checked = False  # the size once the load was over is within the bound
        self.failure = ""

    def run(self) -> None:
        try:
            with connect(self._settings) as conn, conn.cursor() as cr:
                self._watch(cr)
        except (psycopg2.Error, SaasError) as exc:
            self.failure = first_line(exc)
            log.warning("cannot watch the size of %s while it loads: %s", self._db, exc)
        finally:
            self.ready.set()

    def _watch(self, cr: psycopg2.extensions.cursor) -> None:
        limit = self._measure(cr) + self._allowed  # an empty database's ~7 MiB
        self.ready.set()
        while True:
            over = self._halt.wait(POLL_SECONDS)
            try:
                size = self._measure(cr)
            except psycopg2.Error:
                self._end_load(cr)  # unwatched, the load does not go on
                raise
            if size > limit:
                self.size = size
                self._end_load(cr)
                return
            if over:
                self.checked = True
                return

    def _measure(self, cr: psycopg2.extensions.cursor) -> int:
        """db's size; the backup's SQL owns db and may have revoked our CONNECT, which reading
        its size needs: we take it back (as a member of the owner) once."""
        try:
            cr.execute("SELECT pg_database_size(%s)", (self._db,))
        except psycopg2.errors.InsufficientPrivilege:
            self._reconnectable(cr)
            cr.execute("SELECT pg_database_size(%s)", (self._db,))
        return int(cr.fetchone()[0])

    def _reconnectable(self, cr: psycopg2.extensions.cursor) -> None:
        cr.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO CURRENT_USER").format(ident(self._db)))

    def _end_load(self, cr: psycopg2.extensions.cursor) -> None:
        """End every session in db (needs no CONNECT), and leave it one we may connect to
        (the loading role's hand-back and the drop that follows)."""
        cr.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (self._db,),
        )
        with contextlib.suppress(psycopg2.Error):
            self._reconnectable(cr)

    def finish(self) -> None:
        """The load is over (or failed): measure once more, then stop."""
        self._halt.set()
        self.join()

    def error(self, limit: Bound) -> TooBig:
        return TooBig(
            f"the restored database grew past what a restore may load ({limit.text()}; "
            f"{human_size(self.size or 0)} in all): load stopped, nothing restored"
        )
