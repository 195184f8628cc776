"""`backup verify`: prove a backup is intact, and optionally that it restores.

A file's check re-reads it and compares it with the sha256 recorded when it was written
(`<file>.sha256`), then checks the container (zip members, dump header, gzip stream); an
off-site source is checked by its engine (an s3:// copy is downloaded and checked as a file, a
restic source by `restic check` of the repository). `--restore-test` loads it into a scratch
database with the reserved prefix (never a tenant name, never served), checks that it is an
Odoo 19 database, and drops it with its filestore.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from odoo_saas_tools.backups import load_limit
from odoo_saas_tools.backups.sources import Source, open_source
from odoo_saas_tools.core.errors import SaasError
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
    sha256: str  # empty when the engine checks a whole store (restic)
    size_bytes: int
    container: str
    restore_test: bool = False
    odoo_version: str | None = None
    installed_modules: int | None = None
    duration_seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def verify(settings: Settings, source: Path | str, *, restore: bool = False) -> VerifyResult:
    """Check the backup `source` names (a file, s3://BUCKET/KEY, restic:[TENANT[@ID|@TIME]]);
    with `restore` also load it into a scratch database."""
    started = time.monotonic()
    with open_source(settings, source, purpose="verify") as src:
        checked = src.check(settings, then_load=restore)
        result = VerifyResult(checked.file, checked.sha256, checked.size_bytes, checked.container)
        if restore:
            result.restore_test = True
            result.odoo_version, result.installed_modules = restore_test(settings, src)
    result.duration_seconds = round(time.monotonic() - started, 3)
    return result


def restore_test(settings: Settings, src: Source) -> tuple[str, int]:
    """Load into a scratch database, check it is Odoo 19, drop it; (version, modules)."""
    scratch = VERIFY_PREFIX + uuid.uuid4().hex[:12]
    # Held while the scratch exists, so a sweep never takes it for an orphan.
    with advisory_lock(settings, scratch, busy=f"{scratch} is in use"):
        return _restore_test(settings, src, scratch)


def _restore_test(settings: Settings, src: Source, scratch: str) -> tuple[str, int]:
    from odoo_saas_tools.backups.restore import discard

    limit = src.bound(settings)  # what the load may write, as for a restore
    try:
        with loader.scratch_database(settings, scratch) as as_loader:
            databases.set_comment(settings, scratch, hidden.journal("verify", "", "scratch"))
            with load_limit.watch(settings, scratch, limit):
                src.load(as_loader, scratch, settings.filestore(scratch), limit)
        with connect(settings, scratch) as conn, conn.cursor() as cr:
            version = base_version(cr)
            if version is None:
                raise SaasError(f"{src.name} restores to a database that is not Odoo's")
            cr.execute("SELECT count(*) FROM ir_module_module WHERE state = 'installed'")
            modules = int(cr.fetchone()[0])
        if not is_current(version):
            raise SaasError(
                f"{src.name} restores to Odoo {version or 'of unknown version'}, not {ODOO_SERIES}"
            )
        return version, modules
    finally:
        discard(settings, scratch)  # database and filestore; logs, never raises
