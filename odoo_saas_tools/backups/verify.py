"""`backup verify`: prove a backup is intact, and optionally that it restores.

The checksum check re-reads the file and compares it with the sha256 recorded when it was
written (`<file>.sha256`), then checks the container (zip members, dump header, gzip stream).
`--restore-test` loads it into a scratch database with the reserved prefix (never a tenant name,
never served), checks that it is an Odoo 19 database, and drops it with its filestore.
A restic source (restic:TENANT[@ID|@TIME]) is verified by `restic check` of the repository.
"""

from __future__ import annotations

import gzip
import logging
import time
import uuid
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from odoo_saas_tools.backups import archive, load_limit, restic
from odoo_saas_tools.backups.names import parse_backup_name, read_checksum, sha256_file
from odoo_saas_tools.core.errors import ConfigError, SaasError
from odoo_saas_tools.core.odoo_series import ODOO_SERIES, is_current
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases, loader
from odoo_saas_tools.postgres.connection import base_version, connect
from odoo_saas_tools.postgres.locks import advisory_lock
from odoo_saas_tools.tenants import hidden
from odoo_saas_tools.tenants.hidden import VERIFY_PREFIX

log = logging.getLogger(__name__)


@dataclass
class VerifyResult:
    file: str
    sha256: str
    size_bytes: int
    container: str
    restore_test: bool = False
    odoo_version: str | None = None
    installed_modules: int | None = None
    duration_seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def check_checksum(path: Path) -> str:
    """The file's sha256 if it matches the recorded one; SaasError otherwise."""
    if not path.is_file():
        raise SaasError(f"backup file {path} does not exist")
    recorded = read_checksum(path)
    if recorded is None:
        raise SaasError(f"{path.name}: no recorded checksum ({path.name}.sha256 is missing)")
    actual = sha256_file(path)
    if actual != recorded:
        raise SaasError(f"{path.name}: sha256 {actual} does not match the recorded {recorded}")
    return actual


def check_container(path: Path) -> str:
    """What the file is, after a structural check of it; SaasError when it is damaged."""
    kind = archive.detect(path)
    if kind in (archive.ZIP_PLAIN, archive.ZIP_CUSTOM):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                bad = zf.testzip()  # CRC of every member
        except (zipfile.BadZipFile, OSError) as exc:
            raise SaasError(f"{path.name} is not a valid zip: {exc}") from exc
        if bad:
            raise SaasError(f"{path.name}: member {bad} is damaged (CRC mismatch)")
        if not names & {archive.PLAIN_MEMBER, archive.CUSTOM_MEMBER}:
            raise SaasError(f"{path.name} holds no database dump")
    elif kind == archive.SQL_GZ:
        try:
            with gzip.open(path, "rb") as fh:
                while fh.read(1024 * 1024):
                    pass
        except (OSError, EOFError) as exc:
            raise SaasError(f"{path.name} is not a complete gzip stream: {exc}") from exc
    return kind


def restore_test(settings: Settings, path: Path, kind: str) -> tuple[str, int]:
    """Load into a scratch database, check it is Odoo 19, drop it; (version, modules)."""

    scratch = VERIFY_PREFIX + uuid.uuid4().hex[:12]
    # Held while the scratch exists, so a sweep never takes it for an orphan.
    with advisory_lock(settings, scratch, busy=f"{scratch} is in use"):
        return _restore_test(settings, path, kind, scratch)


def _restore_test(settings: Settings, path: Path, kind: str, scratch: str) -> tuple[str, int]:
    from odoo_saas_tools.backups import restore

    if kind == restore.RESTIC:
        limit = load_limit.bound(settings)
    else:  # what the load may write, as for a restore
        limit = load_limit.bound(settings, archive.check_room(path, kind, settings.data_dir))
        limit.check(load_limit.declared(path, kind), f"{path.name}'s database dump")
    try:
        with loader.scratch_database(settings, scratch) as as_loader:
            databases.set_comment(settings, scratch, hidden.journal("verify", "", "scratch"))
            fs = settings.filestore(scratch)
            with load_limit.watch(settings, scratch, limit):
                if kind == restore.RESTIC:
                    source = restic.parse_source(path, settings)
                    assert source is not None
                    restic.load_snapshot(as_loader, scratch, source, fs, limit)
                else:
                    restore.load_backup(
                        as_loader, scratch, path, kind, fs, None, False, limit=limit
                    )
        with connect(settings, scratch) as conn, conn.cursor() as cr:
            version = base_version(cr)
            if version is None:
                raise SaasError(f"{path.name} restores to a database that is not Odoo's")
            cr.execute("SELECT count(*) FROM ir_module_module WHERE state = 'installed'")
            modules = int(cr.fetchone()[0])
        if not is_current(version):
            raise SaasError(
                f"{path.name} restores to Odoo {version or 'of unknown version'}, not {ODOO_SERIES}"
            )
        return version, modules
    finally:
        restore.discard(settings, scratch)  # database and filestore; logs, never raises


def verify(settings: Settings, path: Path, *, restore: bool = False) -> VerifyResult:
    started = time.monotonic()
    sha = check_checksum(path)
    if parse_backup_name(path.name) is None:
        log.warning("%s does not have a backup file name (<db>_<timestamp>.<ext>)", path.name)
    kind = check_container(path)
    result = VerifyResult(str(path), sha, path.stat().st_size, kind)
    if restore:
        result.restore_test = True
        result.odoo_version, result.installed_modules = restore_test(settings, path, kind)
    result.duration_seconds = round(time.monotonic() - started, 3)
    return result


def verify_restic(settings: Settings, text: str, *, restore: bool = False) -> VerifyResult:
    """`restic check` of the repository; with `restore` also load the snapshot `text` names
    (restic:TENANT[@ID|@TIME]) into a scratch database. `restic:` alone checks only."""
    from odoo_saas_tools.backups.restore import RESTIC

    started = time.monotonic()
    source = restic.parse_source(text, settings) if text != restic.SCHEME else None
    if restore and source is None:
        raise ConfigError("--restore-test needs a snapshot: restic:TENANT[@ID|@TIME]")
    name = text
    if source is not None:
        name = restic.resolve(settings, source).source  # fails early if there is none
    line = restic.check(settings)
    result = VerifyResult(name, "", restic.repository_size(settings), f"restic ({line})")
    if restore:
        result.restore_test = True
        result.odoo_version, result.installed_modules = restore_test(settings, Path(name), RESTIC)
    result.duration_seconds = round(time.monotonic() - started, 3)
    return result
