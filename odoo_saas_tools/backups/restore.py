"""`db restore`: load a backup (ours, Odoo's zip or dump, .sql.gz, .sql) as a tenant, safely.

Nothing is lost when a restore fails: the backup is always loaded into a scratch database
(reserved prefix) and a scratch filestore directory beside the real ones; only when the load
succeeded (every SQL statement: the first error ends a plain dump's load, pg_restore runs
with --exit-on-error) are they renamed into place. With --force an existing tenant is renamed
away first and dropped only after the new one is in place.

Speed: the database load runs beside the filestore extraction; plain dumps load over several
connections (postgres/plain_load.py), dump-format backups with parallel pg_restore.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import tempfile
import threading
import time
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from odoo_saas_tools.backups import archive, load_limit, own_backups, restic
from odoo_saas_tools.core.errors import ConfigError, SaasError
from odoo_saas_tools.core.odoo_series import ODOO_SERIES, is_current
from odoo_saas_tools.core.output import Progress
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases, loader, plain_load, sql_stream
from odoo_saas_tools.postgres import tools as pgtools
from odoo_saas_tools.postgres.connection import base_version, connect
from odoo_saas_tools.postgres.locks import advisory_lock
from odoo_saas_tools.runtime import privileges
from odoo_saas_tools.tenants import checked_files, filestore, hidden, identity
from odoo_saas_tools.tenants import neutralize as neutralizer
from odoo_saas_tools.tenants.hidden import REPLACED_PREFIX, RESTORE_PREFIX
from odoo_saas_tools.tenants.locks import tenant_lock
from odoo_saas_tools.tenants.names import check_name

log = logging.getLogger(__name__)

RESTIC = "restic"  # the kind of a restic:TENANT[@ID|@TIME] source


@dataclass(frozen=True)
class RestoreResult:
    database: str
    source: str
    kind: str
    replaced: bool
    copy: bool
    neutralized: bool
    attachments: int
    missing_attachments: int
    duration_seconds: float
    odoo_version: str = ""
    replaced_backup: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def restore_backup(
    settings: Settings,
    name: str,
    source: Path | str,
    *,
    force: bool = False,
    copy: bool = False,
    neutralize: bool = False,
    jobs: int | None = None,
    progress: bool = False,
    lock: bool = True,
    from_other_tenant: bool = False,
    any_version: bool = False,
    last_backup: bool = True,
) -> RestoreResult:
    """Restore `source` (a file, s3:// URL or restic:TENANT[@ID|@TIME]) as tenant `name`.

    Keeps the database identity (uuid, secret) unless `copy`; `neutralize` runs the installed
    modules' neutralize.sql. `lock=False` for callers already holding the tenant's lock.
    A tenant replaced with `force` gets a last backup in $BACKUP_DIR/replaced first (unless
    `last_backup` is off); a backup of another tenant or another Odoo series is refused unless
    `from_other_tenant` / `any_version` say it is meant.
    """
    check_name(name, settings)
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        held = None
        reuse: archive.FileReuse | None = None
        if lock:
            held = stack.enter_context(tenant_lock(settings, name, operation="restore"))
        exists = databases.exists(settings, name)
        if exists and not force:
            raise SaasError(
                f"database {name} already exists; restore with --force to replace it "
                "(the current one is kept until the restore has succeeded)"
            )
        live_fs = settings.filestore(name)
        if not exists and _non_empty_dir(live_fs) and not force:
            raise SaasError(
                f"{live_fs} exists without a database {name}; restore with --force to replace it"
            )
        snapshot = restic.parse_source(source, settings)
        if snapshot is not None:
            path, kind = Path(str(source)), RESTIC
            manifest = None
            limit = load_limit.bound(settings)
        else:
            path = stack.enter_context(_local_file(settings, source))
            kind = archive.detect(path)
            manifest = archive.read_manifest(path, kind)
            limit = load_limit.bound(settings, archive.check_room(path, kind, settings.data_dir))
            limit.check(load_limit.declared(path, kind), f"{path.name}'s database dump")
        _check_origin(name, path, manifest, from_other_tenant or not exists, any_version)
        tmp = RESTORE_PREFIX + uuid.uuid4().hex[:12]
        tmp_fs = settings.filestore(tmp)
        # Held for the whole restore: a sweep sees the scratch database as in use, not orphaned.
        stack.enter_context(advisory_lock(settings, tmp, busy=f"{tmp} is in use"))
        try:
            # The backup's SQL runs as a throw-away role owning only tmp (postgres/loader.py)
            with loader.scratch_database(settings, tmp) as as_loader:
                journal = hidden.journal("restore", name, "scratch")
                databases.set_comment(settings, tmp, journal)
                with load_limit.watch(settings, tmp, limit):
                    if snapshot is not None:
                        source, count = restic.load_snapshot(
                            as_loader, tmp, snapshot, tmp_fs, limit
                        )
                    else:
                        reuse = _file_reuse(settings, name, manifest, path)
                        count = load_backup(
                            as_loader,
                            tmp,
                            path,
                            kind,
                            tmp_fs,
                            jobs,
                            progress,
                            reuse=reuse,
                            limit=limit,
                        )
                if reuse is not None:
                    if reuse.linked:
                        log.info(
                            "%d of %d attachment files taken from filestores on disk (hard "
                            "links; %d read to check them, %d compared with the backup's)",
                            reuse.linked,
                            count,
                            reuse.hashed,
                            reuse.compared,
                        )
                    reuse.save_checks()
            version = _require_odoo(settings, tmp, path)
            if not is_current(version) and not any_version:
                raise ConfigError(
                    f"{path.name} holds an Odoo {version or '(unknown)'} database and this stack "
                    f"serves {ODOO_SERIES}: nothing changed (--any-version restores it anyway)"
                )
            missing = _missing_attachments(settings, tmp, tmp_fs)
            if missing:
                log.warning(
                    "%d attachment file(s) referenced by the restored database are not in %s",
                    missing,
                    path.name,
                )
            if copy:
                identity.renew(settings, tmp, base_url=identity.default_base_url(settings, name))
            if neutralize:
                neutralizer.neutralize(settings, tmp)
            tmp_fs.mkdir(parents=True, exist_ok=True)
            privileges.give_to_runtime_user(settings.runtime_user, [tmp_fs])
            saved = None
            if exists and last_backup:
                from odoo_saas_tools.backups.backup import create_backup

                saved = create_backup(settings, name, replaced_dir(settings), lock=False).path
                log.info("last backup of the replaced %s: %s", name, saved)
            if held is not None:
                held.ensure_held("swap")
            _swap_in(settings, name, tmp, exists)
        except BaseException:
            discard(settings, tmp)
            raise
        if reuse is not None:
            # the restored tenant's linked files are the donors' checked inodes
            checked_files.remember(settings, name, reuse.linked_files, reuse.owner_uid)
    result = RestoreResult(
        database=name,
        source=str(source),
        kind=kind,
        replaced=exists,
        copy=copy,
        neutralized=neutralize,
        attachments=count,
        missing_attachments=missing,
        duration_seconds=round(time.monotonic() - started, 3),
        odoo_version=version,
        replaced_backup=str(saved) if saved else None,
    )
    log.info("restored %s from %s", name, source)
    return result


def replaced_dir(settings: Settings) -> Path:
    """Last backups of tenants replaced by `restore --force` (pruned like every tenant's)."""
    return settings.backup_dir / "replaced"


def _check_origin(
    name: str, path: Path, manifest: dict | None, other_tenant: bool, any_version: bool
) -> None:
    """Refuse (before anything is loaded) a backup that says it is of something else.

    Another tenant's backup under a new name is how copies are made: only replacing an
    existing tenant with it needs saying so (other_tenant is then the user's flag).
    """
    if not manifest:
        return
    origin = manifest.get("db_name")
    if origin and origin != name and not other_tenant:
        raise ConfigError(
            f"{path.name} is a backup of {origin}, not of {name}: nothing changed "
            "(--from-other-tenant restores it anyway)"
        )
    series = str(manifest.get("major_version") or manifest.get("version") or "")
    if series and not is_current(series) and not any_version:
        raise ConfigError(
            f"{path.name} is a backup of Odoo {series} and this stack serves {ODOO_SERIES}: "
            "nothing changed (--any-version restores it anyway)"
        )


# --- databases --------------------------------------------------------------------------------
def discard(settings: Settings, tmp: str) -> None:
    """Remove the scratch database and filestore of a failed restore (logged, never raised)."""
    databases.drop_quietly(settings, tmp)
    try:
        filestore.remove(settings.filestore(tmp))
    except OSError as exc:
        log.error("could not remove scratch filestore %s: %s", settings.filestore(tmp), exc)


def _swap_in(settings: Settings, name: str, tmp: str, exists: bool) -> None:
    """Put the restored database and filestore in place; undo everything if a step fails."""
    live_fs, tmp_fs = settings.filestore(name), settings.filestore(tmp)
    old = REPLACED_PREFIX + uuid.uuid4().hex[:12]
    old_fs = settings.filestore(old)
    tmp_fs.mkdir(parents=True, exist_ok=True)
    undo: list[Callable[[], None]] = []
    try:
        if exists:
            # The comment travels with the rename: whoever finds `old` knows what to undo.
            databases.set_comment(
                settings, name, hidden.journal("restore", name, "replaced", scratch=tmp)
            )
            undo.append(lambda: databases.clear_comment(settings, name))
            databases.rename(settings, name, old)
            undo.append(lambda: databases.rename(settings, old, name))
        if filestore.rename(live_fs, old_fs):
            undo.append(lambda: filestore.rename(old_fs, live_fs))
        filestore.rename(tmp_fs, live_fs)
        undo.append(lambda: filestore.rename(live_fs, tmp_fs))
        databases.rename(settings, tmp, name)
    except BaseException:
        for step in reversed(undo):
            try:
                step()
            except Exception as exc:
                log.error("undoing the swap of %s failed: %s", name, exc)
        raise
    # The new tenant is live (without the scratch's journal); the replaced one may now go.
    databases.clear_comment(settings, name)
    if exists:
        databases.drop_quietly(settings, old)
    try:
        filestore.remove(old_fs)
    except OSError as exc:
        log.error(
            "restored %s, but the replaced filestore %s was not removed: %s", name, old_fs, exc
        )


# --- loading ----------------------------------------------------------------------------------
@contextlib.contextmanager
def _local_file(settings: Settings, source: Path | str) -> Iterator[Path]:
    """The backup as a local file: an s3:// URL is downloaded (and checked) first."""
    text = str(source)
    if not text.startswith("s3://"):
        path = Path(text)
        if not path.is_file():
            raise SaasError(f"backup file {path} does not exist")
        yield path
        return
    from odoo_saas_tools.backups import s3

    settings.backup_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=settings.backup_dir) as tmpdir:
        yield s3.download(settings, text, Path(tmpdir))


def _file_reuse(
    settings: Settings, name: str, manifest: dict | None, path: Path
) -> archive.FileReuse:
    """Where a restore may find the backup's attachment files already: the tenant it replaces
    (a roll-back) and the tenant the backup is of (a copy). Only files proven to hold a
    member's bytes are taken (archive.FileReuse): the manifest's word is no proof."""
    tenants = [name]
    origin = (manifest or {}).get("db_name")
    if isinstance(origin, str) and origin != name:
        with contextlib.suppress(ConfigError):
            settings.filestore(origin)  # a name that can be a directory of ours
            tenants.append(origin)
    owner = checked_files.files_owner(settings)
    checked = {settings.filestore(t): checked_files.open_memo(settings, t, owner) for t in tenants}
    own = own_backups.lookup(settings, path, owner)
    return archive.FileReuse(list(checked), owner, checked, own)


def _non_empty_dir(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


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
        if kind == archive.ZIP_PLAIN:
            db_jobs = _database_jobs(zf, jobs, reuse)
            spool = db_jobs > 1 and archive.has_room_for_dump(zf, settings.data_dir)

            def load() -> None:
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

        else:
            dump = Path(stack.enter_context(_scratch_dir(settings))) / archive.CUSTOM_MEMBER
            archive.extract_member(zf, archive.CUSTOM_MEMBER, dump)

            def load() -> None:
                pgtools.pg_restore(settings, db, dump, jobs=jobs)

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


def _require_odoo(settings: Settings, db: str, path: Path) -> str:
    """base's version in the restored database; SaasError if it is not an Odoo database."""
    with connect(settings, db) as conn, conn.cursor() as cr:
        version = base_version(cr)
    if version is None:
        raise SaasError(f"{path.name} does not hold an Odoo database (no ir_module_module)")
    return version


def _missing_attachments(settings: Settings, db: str, fs_dir: Path) -> int:
    """How many attachments the restored database references that have no file."""
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute("SELECT to_regclass('ir_attachment') IS NOT NULL")
        if not cr.fetchone()[0]:
            return 0
        cr.execute(
            "SELECT DISTINCT store_fname FROM ir_attachment "
            "WHERE store_fname IS NOT NULL AND store_fname <> ''"
        )
        rows = cr.fetchall()
    return sum(1 for (fname,) in rows if not (fs_dir / archive.filestore_relpath(fname)).is_file())
