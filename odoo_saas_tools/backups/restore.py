"""`db restore`: load a backup (ours, Odoo's zip or dump, .sql.gz, .sql, an off-site copy or
snapshot) as a tenant, safely.

Nothing is lost when a restore fails: the backup is always loaded into a scratch database
(reserved prefix) and a scratch filestore directory beside the real ones; only when the load
succeeded (every SQL statement: the first error ends a plain dump's load, pg_restore runs
with --exit-on-error) are they renamed into place. With --force an existing tenant is renamed
away first and dropped only after the new one is in place.

What is loaded is a source (backups/sources.py: a file, or what an off-site engine opens); how
a file loads fast is backups/loading.py.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from odoo_saas_tools.backups import archive, load_limit
from odoo_saas_tools.backups.sources import Source, open_source
from odoo_saas_tools.core.errors import ConfigError, SaasError
from odoo_saas_tools.core.odoo_series import ODOO_SERIES, is_current
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases, loader
from odoo_saas_tools.postgres.connection import base_version, connect
from odoo_saas_tools.postgres.locks import advisory_lock
from odoo_saas_tools.runtime import privileges
from odoo_saas_tools.tenants import checked_files, filestore, hidden, identity
from odoo_saas_tools.tenants import neutralize as neutralizer
from odoo_saas_tools.tenants.hidden import REPLACED_PREFIX, RESTORE_PREFIX
from odoo_saas_tools.tenants.locks import tenant_lock
from odoo_saas_tools.tenants.names import check_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestoreOptions:
    """How to restore (`db restore`'s flags).

    `force` replaces an existing tenant, after a last backup of it in $BACKUP_DIR/replaced
    unless `last_backup` is off; `copy` gives a new database identity (uuid, secret), else it
    is kept; `neutralize` runs the installed modules' neutralize.sql; a backup of another tenant
    or another Odoo series is refused unless `from_other_tenant` / `any_version` say it is
    meant; `jobs` connections load the database; `lock=False` for callers already holding the
    tenant's lock."""

    force: bool = False
    copy: bool = False
    neutralize: bool = False
    jobs: int | None = None
    progress: bool = False
    lock: bool = True
    from_other_tenant: bool = False
    any_version: bool = False
    last_backup: bool = True


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


@dataclass
class _Loaded:
    """What the scratch database holds once loaded and checked."""

    attachments: int
    version: str
    missing: int
    reuse: archive.FileReuse | None


def restore_backup(
    settings: Settings,
    name: str,
    source: Path | str,
    options: RestoreOptions = RestoreOptions(),
) -> RestoreResult:
    """Restore `source` (a file, or an off-site engine's s3:// URL or restic:TENANT[@ID|@TIME])
    as tenant `name`; nothing changes unless it all succeeds."""
    check_name(name, settings)
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        held = None
        if options.lock:
            held = stack.enter_context(tenant_lock(settings, name, operation="restore"))
        exists = _check_target(settings, name, options.force)
        src = stack.enter_context(open_source(settings, source))
        manifest = src.manifest
        limit = src.bound(settings)
        _check_origin(
            name, src.name, manifest, options.from_other_tenant or not exists, options.any_version
        )
        tmp = RESTORE_PREFIX + uuid.uuid4().hex[:12]
        # Held for the whole restore: a sweep sees the scratch database as in use, not orphaned.
        stack.enter_context(advisory_lock(settings, tmp, busy=f"{tmp} is in use"))
        try:
            loaded = _load_scratch(settings, name, tmp, src, limit, options)
            saved = _finish_scratch(settings, name, tmp, exists, options)
            if held is not None:
                held.ensure_held("swap")
            _swap_in(settings, name, tmp, exists)
        except BaseException:
            discard(settings, tmp)
            raise
        if loaded.reuse is not None:
            # the restored tenant's linked files are the donors' checked inodes
            reuse = loaded.reuse
            checked_files.remember(settings, name, reuse.linked_files, reuse.owner_uid)
    result = RestoreResult(
        database=name,
        source=src.label,
        kind=src.kind,
        replaced=exists,
        copy=options.copy,
        neutralized=options.neutralize,
        attachments=loaded.attachments,
        missing_attachments=loaded.missing,
        duration_seconds=round(time.monotonic() - started, 3),
        odoo_version=loaded.version,
        replaced_backup=str(saved) if saved else None,
    )
    log.info("restored %s from %s", name, result.source)
    return result


def _check_target(settings: Settings, name: str, force: bool) -> bool:
    """Whether tenant name exists; refused (nothing changed) when it does, unless force."""
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
    return exists


def _non_empty_dir(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def _load_scratch(
    settings: Settings,
    name: str,
    tmp: str,
    src: Source,
    limit: load_limit.Bound,
    options: RestoreOptions,
) -> _Loaded:
    """Load src into the scratch database tmp and its filestore, then check what came in."""
    tmp_fs = settings.filestore(tmp)
    # The backup's SQL runs as a throw-away role owning only tmp (postgres/loader.py)
    with loader.scratch_database(settings, tmp) as as_loader:
        databases.set_comment(settings, tmp, hidden.journal("restore", name, "scratch"))
        reuse = src.file_reuse(settings, name)
        with load_limit.watch(settings, tmp, limit):
            count = src.load(
                as_loader,
                tmp,
                tmp_fs,
                limit,
                jobs=options.jobs,
                progress=options.progress,
                reuse=reuse,
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
    version = _require_odoo(settings, tmp, src.name)
    if not is_current(version) and not options.any_version:
        raise ConfigError(
            f"{src.name} holds an Odoo {version or '(unknown)'} database and this stack "
            f"serves {ODOO_SERIES}: nothing changed (--any-version restores it anyway)"
        )
    missing = _missing_attachments(settings, tmp, tmp_fs)
    if missing:
        log.warning(
            "%d attachment file(s) referenced by the restored database are not in %s",
            missing,
            src.name,
        )
    return _Loaded(count, version, missing, reuse)


def _finish_scratch(
    settings: Settings, name: str, tmp: str, exists: bool, options: RestoreOptions
) -> Path | None:
    """The scratch tenant made ready to serve (identity, neutralized, its files handed to the
    runtime user); the last backup of the tenant it replaces, when one is taken."""
    tmp_fs = settings.filestore(tmp)
    if options.copy:
        identity.renew(settings, tmp, base_url=identity.default_base_url(settings, name))
    if options.neutralize:
        neutralizer.neutralize(settings, tmp)
    tmp_fs.mkdir(parents=True, exist_ok=True)
    privileges.give_to_runtime_user(settings.runtime_user, [tmp_fs])
    if not (exists and options.last_backup):
        return None
    from odoo_saas_tools.backups.backup import create_backup

    saved = create_backup(settings, name, replaced_dir(settings), lock=False).path
    log.info("last backup of the replaced %s: %s", name, saved)
    return saved


def replaced_dir(settings: Settings) -> Path:
    """Last backups of tenants replaced by `restore --force` (pruned like every tenant's)."""
    return settings.backup_dir / "replaced"


def _check_origin(
    name: str, what: str, manifest: dict | None, other_tenant: bool, any_version: bool
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
            f"{what} is a backup of {origin}, not of {name}: nothing changed "
            "(--from-other-tenant restores it anyway)"
        )
    series = str(manifest.get("major_version") or manifest.get("version") or "")
    if series and not is_current(series) and not any_version:
        raise ConfigError(
            f"{what} is a backup of Odoo {series} and this stack serves {ODOO_SERIES}: "
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


def _require_odoo(settings: Settings, db: str, what: str) -> str:
    """base's version in the restored database; SaasError if it is not an Odoo database."""
    with connect(settings, db) as conn, conn.cursor() as cr:
        version = base_version(cr)
    if version is None:
        raise SaasError(f"{what} does not hold an Odoo database (no ir_module_module)")
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
