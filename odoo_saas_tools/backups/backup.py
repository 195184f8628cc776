"""`db backup`: one tenant's database and filestore in one verified file.

Consistency: the attachment list is read in the same snapshot pg_dump dumps (a REPEATABLE READ
transaction exports it, pg_dump imports it with --snapshot), so the backup holds exactly the
files the dump references; since the filestore is write-once and content-addressed, copying
them after the snapshot is safe, and a referenced file that is missing fails the backup.

Speed: pg_dump runs as its own process (on another core) while the filestore is copied into
the archive; attachments are stored uncompressed, only the SQL is deflated; the sha256 is
computed while the file is written. The file is written under a hidden `.partial` name,
checked, then renamed, so a backup that exists is a complete one.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import shutil
import time
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg2.extensions

from odoo_saas_tools.backups import archive, own_backups
from odoo_saas_tools.backups import names as backup_names
from odoo_saas_tools.core import execute
from odoo_saas_tools.core.errors import ConfigError, SaasError
from odoo_saas_tools.core.files import WriteBehind
from odoo_saas_tools.core.odoo_series import ODOO_SERIES, VERSION_INFO
from odoo_saas_tools.core.output import Progress, human_size
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import tools as pgtools
from odoo_saas_tools.postgres.connection import base_version, connect
from odoo_saas_tools.runtime import privileges
from odoo_saas_tools.tenants import checked_files
from odoo_saas_tools.tenants.locks import tenant_lock
from odoo_saas_tools.tenants.names import check_name

log = logging.getLogger(__name__)

FORMATS = backup_names.EXTENSIONS  # zip, dump, sql.gz
_DUMP_END = b"-- PostgreSQL database dump complete"
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class BackupResult:
    path: Path
    sha256: str
    size_bytes: int
    duration_seconds: float
    database: str
    fmt: str
    attachments: int = 0

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


@dataclass(frozen=True)
class Snapshot:
    """What pg_dump will see: its snapshot id, the files it references, the manifest."""

    snapshot_id: str
    store_fnames: list[str]
    manifest: dict[str, object]
    db_size: int


@dataclass
class _Written:
    """A backup file just put in place, with what writing it proved of the tenant's files."""

    sha256: str
    size: int
    attachments: int
    checked: dict[str, os.stat_result] | None  # attachment files whose content matches their name
    damaged: list[str] | None  # those that do not (zip and dump only)


def create_backup(
    settings: Settings,
    db: str,
    directory: Path | None = None,
    fmt: str = "zip",
    *,
    progress: bool = False,
    lock: bool = True,
    as_name: str | None = None,
) -> BackupResult:
    """Back up tenant `db` into `directory` (default $BACKUP_DIR/<db>/) as zip, dump or sql.gz.

    `as_name`: the tenant's name when db is the tenant under a hidden name (drop's last
    backup): the file and its manifest carry as_name, so it restores as that tenant.

    `lock=False` is for callers that already hold the tenant's lock (e.g. drop's last backup).
    Raises SaasError (BusyError when another operation holds the tenant).
    """
    label = check_name(as_name) if as_name else check_name(db)
    if fmt not in FORMATS:
        raise ConfigError(f"unknown backup format {fmt!r} (choose {', '.join(FORMATS)})")
    directory = Path(directory) if directory else backup_names.default_dir(settings, db)
    with tenant_lock(settings, db, operation="backup") if lock else contextlib.nullcontext():
        _require_database(settings, db)
        created = not directory.exists()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if directory == backup_names.default_dir(settings, db):
            backup_names.sweep_partials(directory)  # left by a killed backup
        final = directory / backup_names.backup_name(label, fmt)
        if final.exists():  # two backups within the same second
            time.sleep(1.0)
            final = directory / backup_names.backup_name(label, fmt)
        started = time.monotonic()
        written = _write(settings, db, label, fmt, final, progress)
    _settle(settings, db, final, written, created=created, mine=as_name is None)
    result = BackupResult(
        path=final,
        sha256=written.sha256,
        size_bytes=written.size,
        duration_seconds=round(time.monotonic() - started, 3),
        database=db,
        fmt=fmt,
        attachments=written.attachments,
    )
    log.info("backup of %s written to %s (%d bytes)", db, final, written.size)
    return result


def _write(
    settings: Settings, db: str, label: str, fmt: str, final: Path, progress: bool
) -> _Written:
    """Write the backup under a partial name, its checksum sidecar, then rename it to final;
    nothing of it is left when this fails."""
    partial_fd, partial = backup_names.new_partial(final)
    temps = [partial]
    try:
        with _snapshot(settings, db) as snap:
            snap.manifest["db_name"] = label
            if fmt == "sql.gz":
                _check_space(final.parent, snap.db_size // 4)
                sha, size = _write_sql_gz(settings, db, snap, partial_fd)
                written = _Written(sha, size, 0, None, None)
            else:
                written = _write_zip(
                    settings, db, snap, final, fmt, progress, partial_fd, partial, temps
                )
        # the checksum first: a file with a backup's name always has its sidecar
        backup_names.write_checksum(final, written.sha256)
        os.replace(partial, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(partial_fd)  # when no writer took it over
        for leftover in (*temps, backup_names.checksum_path(final)):
            _remove_quietly(leftover)
        raise
    return written


def _settle(
    settings: Settings, db: str, final: Path, written: _Written, *, created: bool, mine: bool
) -> None:
    """What follows a backup in place: the memo of checked files (`mine`: db is the tenant it
    is of), the directory synced, the files handed to the runtime user, the backup recorded."""
    directory = final.parent
    side = backup_names.checksum_path(final)
    if written.checked is not None and mine:
        # the next restore of this backup links these files without reading them again
        checked_files.remember(settings, db, written.checked, _files_owner(settings))
    with contextlib.suppress(OSError):
        archive.fsync_dir(directory)
    if directory.resolve().is_relative_to(settings.backup_dir.resolve()):
        # made by root (docker exec): the scheduler, running as the runtime user, must still
        # be able to prune these
        try:
            privileges.give_to_runtime_user(
                settings.runtime_user, [final, side, directory] if created else [final, side]
            )
        except (OSError, SaasError) as exc:
            log.warning("could not hand %s to %s: %s", final, settings.runtime_user, exc)
    if written.damaged is not None:
        # last: the file as it now stays (a chown changes its identity); its members are proven
        own_backups.record(settings, final, written.damaged, _files_owner(settings))


def last_backup(settings: Settings, db: str, directory: Path, name: str) -> Path:
    """A drop's last backup (tenants.drop's LastBackup): db is the tenant renamed away, under
    the lock the drop holds; the file is named after the tenant."""
    return create_backup(settings, db, directory, lock=False, as_name=name).path


def _require_database(settings: Settings, db: str) -> None:
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
        if cr.fetchone() is None:
            raise SaasError(f"database {db} does not exist", exit_code=1)


@contextlib.contextmanager
def _snapshot(settings: Settings, db: str) -> Iterator[Snapshot]:
    """Hold a REPEATABLE READ transaction open and export its snapshot for pg_dump."""
    with connect(settings, db, autocommit=False) as conn:
        conn.set_session(
            isolation_level=psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ, readonly=True
        )
        with conn.cursor() as cr:
            cr.execute("SELECT pg_export_snapshot()")
            snapshot_id = cr.fetchone()[0]
            if base_version(cr) is None:
                raise SaasError(f"{db} is not an Odoo database (no ir_module_module table)")
            cr.execute(
                "SELECT DISTINCT store_fname FROM ir_attachment "
                "WHERE store_fname IS NOT NULL AND store_fname <> '' ORDER BY 1"
            )
            fnames = [row[0] for row in cr.fetchall()]
            manifest = _manifest(cr, db, conn.server_version)
            cr.execute("SELECT pg_database_size(current_database())")
            db_size = int(cr.fetchone()[0])
        try:
            yield Snapshot(snapshot_id, fnames, manifest, db_size)
        finally:
            conn.rollback()


def _manifest(cr: psycopg2.extensions.cursor, db: str, server_version: int) -> dict[str, object]:
    """manifest.json exactly as Odoo's dump_db_manifest writes it."""
    cr.execute("SELECT name, latest_version FROM ir_module_module WHERE state = 'installed'")
    modules = dict(cr.fetchall())
    base = str(modules.get("base") or ODOO_SERIES)
    major = ".".join(base.split(".")[:2])
    major_num, minor_num = divmod(server_version / 100, 100)
    return {
        "odoo_dump": "1",
        "db_name": db,
        "version": major,
        "version_info": (
            VERSION_INFO
            if major == ODOO_SERIES
            else [int(major.split(".")[0]), 0, 0, "final", 0, ""]
        ),
        "major_version": major,
        "pg_version": f"{int(major_num)}.{int(minor_num)}",
        "modules": modules,
    }


def _filestore_files(settings: Settings, db: str, snap: Snapshot) -> list[tuple[Path, str]]:
    """(source file, member name) for every referenced attachment; fail if one is missing."""
    root = settings.filestore(db)
    real_root = root.resolve()
    out: list[tuple[Path, str]] = []
    missing: list[str] = []
    for fname in snap.store_fnames:
        rel = archive.filestore_relpath(fname)
        src = root / rel
        if not rel or not src.is_file():
            missing.append(fname)
            continue
        if src.is_symlink() or not src.resolve().is_relative_to(real_root):
            # Odoo writes plain files; a link is someone reaching for files not theirs
            raise SaasError(f"{src} is a link (or under one) out of {db}'s filestore: refusing it")
        out.append((src, archive.FILESTORE_PREFIX + rel))
    if missing:
        raise SaasError(
            f"{len(missing)} attachment file(s) referenced by {db} are missing from its "
            f"filestore {root} (first: {missing[0]}); the backup would not be restorable as is"
        )
    return out


def _write_zip(
    settings: Settings,
    db: str,
    snap: Snapshot,
    final: Path,
    fmt: str,
    progress: bool,
    partial_fd: int,
    partial: Path,
    temps: list[Path],
) -> _Written:
    """Write the archive: pg_dump to a temp file in parallel with the filestore copy.

    Each attachment is hashed as it is copied: the files whose content matches their name
    are returned (with their stat) for the tenant's memo of checked files; the others are
    damaged on disk, and said so (their bytes are still the only copy: they are kept) and
    returned by name."""
    files = _filestore_files(settings, db, snap)
    # the archive plus the dump written beside it while the files are copied
    _check_space(final.parent, sum(src.stat().st_size for src, _ in files) + snap.db_size)
    custom = fmt == "dump"
    proc, dump_tmp = _start_dump(settings, db, snap, final, custom, temps)
    bar = Progress(f"backup {db}", total=len(files) + 1, enabled=None if progress else False)
    try:
        with open(partial_fd, "wb") as raw, WriteBehind(raw.fileno()) as behind:
            writer = archive.HashingWriter(raw, behind)
            with zipfile.ZipFile(writer, "w", allowZip64=True) as zf:  # type: ignore[arg-type]
                archive.add_bytes(
                    zf, archive.MANIFEST_MEMBER, json.dumps(snap.manifest, indent=4).encode()
                )
                checked, damaged = _add_attachments(zf, files, bar)
                pgtools.wait(proc, settings)
                _check_dump(settings, dump_tmp, custom)
                member = archive.CUSTOM_MEMBER if custom else archive.PLAIN_MEMBER
                archive.add_file(zf, dump_tmp, member, deflate=not custom)
                bar.advance(1)
            raw.flush()
            behind.sync()
        _verify_zip(partial, writer.size, len(files), custom)
    except BaseException:
        pgtools.kill(proc)
        raise
    finally:
        _remove_quietly(dump_tmp)
    bar.finish()
    if damaged:
        log.warning(
            "%d attachment file(s) of %s no longer match their checksum (changed or damaged on "
            "disk; backed up as they are, restores will not link them): first %s",
            len(damaged),
            db,
            settings.filestore(db) / damaged[0],
        )
    return _Written(writer.hexdigest(), writer.size, len(files), checked, damaged)


def _start_dump(
    settings: Settings, db: str, snap: Snapshot, final: Path, custom: bool, temps: list[Path]
) -> tuple[execute.Process[bytes], Path]:
    """pg_dump of the snapshot into a temporary file beside final (listed in temps)."""
    # pg_dump writes to a descriptor we opened (0600, exclusive), never to a path it opens
    dump_fd, dump_tmp = backup_names.new_partial(final.with_name(final.name + ".db"))
    temps.append(dump_tmp)
    try:
        proc = pgtools.pg_dump_popen(
            settings,
            db,
            fmt="custom" if custom else "plain",
            snapshot=snap.snapshot_id,
            stdout=dump_fd,
        )
    finally:
        os.close(dump_fd)
    return proc, dump_tmp


def _add_attachments(
    zf: zipfile.ZipFile, files: list[tuple[Path, str]], bar: Progress
) -> tuple[dict[str, os.stat_result], list[str]]:
    """Store each attachment file; (files whose content matches their name, with their stat;
    names of those that do not)."""
    checked: dict[str, os.stat_result] = {}
    damaged: list[str] = []
    for src, arcname in files:
        st, sha1 = archive.add_attachment(zf, src, arcname)
        rel = arcname.removeprefix(archive.FILESTORE_PREFIX)
        expected = archive.content_sha1(rel)
        if sha1 == expected:
            checked[rel] = st
        elif expected is not None:
            damaged.append(rel)
        bar.advance(1)
    return checked, damaged


def _files_owner(settings: Settings) -> int | None:
    """Who the memo of checked files goes to (None: whoever runs this)."""
    try:
        return checked_files.files_owner(settings)
    except ConfigError:
        return None


def _check_space(directory: Path, needed: int) -> None:
    """Fail before writing when the backup clearly cannot fit (a rough estimate)."""
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise SaasError(
            f"not enough free space in {directory}: about {human_size(needed)} needed, "
            f"{human_size(free)} free"
        )


def _check_dump(settings: Settings, dump: Path, custom: bool) -> None:
    """pg_dump exited 0; also make sure the file is a complete dump before it is archived."""
    if custom:
        pgtools.pg_restore_list(settings, dump)
        return
    with open(dump, "rb") as fh:
        fh.seek(max(0, dump.stat().st_size - 4096))
        if _DUMP_END not in fh.read():
            raise SaasError(f"pg_dump output for {dump.name} is incomplete (no end marker)")


def _verify_zip(path: Path, size: int, files: int, custom: bool) -> None:
    """Re-read the central directory: every member is there and the size is what was written."""
    if path.stat().st_size != size:
        raise SaasError(f"{path} has {path.stat().st_size} bytes, {size} were written")
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile as exc:
        raise SaasError(f"the backup just written is not a valid zip: {exc}") from exc
    want = archive.CUSTOM_MEMBER if custom else archive.PLAIN_MEMBER
    stored = sum(1 for n in names if n.startswith(archive.FILESTORE_PREFIX))
    if want not in names or archive.MANIFEST_MEMBER not in names or stored != files:
        raise SaasError(f"the backup just written is incomplete ({len(names)} members)")


def _write_sql_gz(settings: Settings, db: str, snap: Snapshot, partial_fd: int) -> tuple[str, int]:
    """Database only: pg_dump's plain SQL gzipped here (zlib runs beside pg_dump)."""
    proc = pgtools.pg_dump_popen(settings, db, fmt="plain", snapshot=snap.snapshot_id)
    assert proc.stdout is not None
    tail = b""
    try:
        with open(partial_fd, "wb") as raw:
            writer = archive.HashingWriter(raw)
            with gzip.GzipFile(
                filename="",
                mode="wb",
                fileobj=writer,
                compresslevel=6,
                mtime=0,  # type: ignore[arg-type]
            ) as gz:
                while chunk := proc.stdout.read(_CHUNK):
                    gz.write(chunk)
                    tail = (tail + chunk)[-4096:]
            raw.flush()
            os.fsync(raw.fileno())
        proc.stdout.close()
        pgtools.wait(proc, settings)
    except BaseException:
        pgtools.kill(proc)
        raise
    if _DUMP_END not in tail:
        raise SaasError(f"pg_dump output for {db} is incomplete (no end marker)")
    return writer.hexdigest(), writer.size


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
