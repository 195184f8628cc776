"""The s3 off-site engine (BACKUP_OFFSITE=s3, the default): every backup file shipped whole.

Each backup is first written locally, then every backup of the tenant the policy keeps that has
no verified copy yet is uploaded and proven identical (s3_bucket); only then does it get its
`.offsite` marker, so a failed upload is retried by the next run. Retention applies the same
policy to the tenant's objects in the bucket; there is no maintenance. `s3://BUCKET/KEY` names
a copy to restore or verify: it is downloaded and checked first.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
import zoneinfo
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from odoo_saas_tools.backups.names import mark_offsite, offsite_url, read_checksum
from odoo_saas_tools.backups.offsite import LocalBackup, Retained, Shipment
from odoo_saas_tools.backups.offsite import s3_bucket as bucket
from odoo_saas_tools.backups.retain import local_backups, local_candidates
from odoo_saas_tools.backups.retention import Candidate, Policy, decide
from odoo_saas_tools.backups.sources import LocalFile
from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)

SCHEME = "s3://"


def tenant_of(settings: Settings, url: str) -> str | None:
    """The tenant of s3://$AWS_S3_BUCKET/$BACKUP_S3_PREFIX/<db>/<file>; None for any other URL."""
    key_prefix = bucket.prefix(settings)
    base = bucket.url_for(settings, f"{key_prefix}/" if key_prefix else "")
    if not url.startswith(base):
        return None
    tenant, _, name = url[len(base) :].partition("/")
    return tenant if tenant and name and "/" not in name else None


class Engine:
    """S3 behind the off-site interface (backups/offsite/__init__.py)."""

    name = "s3"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client: Any = None

    def open(self, *, create: bool = False) -> None:
        # one client for the whole command (thread-safe; building one costs ~0.1 s)
        self.client = bucket.client(self.settings)

    def back_up(
        self, db: str, take_local: Callable[[], LocalBackup], stop: threading.Event
    ) -> Shipment:
        """The local backup, then its copy (and any other kept one missing off-site)."""
        local = take_local()
        shipment = Shipment(str(local.path), int(local.size_bytes))
        if stop.is_set():  # a complete local backup; its upload is left to the next run
            raise SaasError("interrupted before the off-site copy")
        try:
            shipment.uploaded = upload_missing(self.settings, db, self.client)
        except SaasError as exc:
            raise SaasError(f"off-site copy failed (local file kept): {exc}") from exc
        return shipment

    def retain(
        self,
        databases: list[str] | None = None,
        *,
        dry_run: bool = False,
        now: datetime | None = None,
    ) -> dict[str, Retained]:
        """The policy on the tenants' objects. Only verified uploads exist under final keys,
        so every object counts as good."""
        one = databases[0] if databases is not None and len(databases) == 1 else None
        found: dict[str, list[bucket.RemoteBackup]] = {}
        for b in bucket.list_backups(self.settings, one, s3=self.client):
            found.setdefault(b.database, []).append(b)
        policy = Policy.from_settings(self.settings)
        tz = zoneinfo.ZoneInfo(self.settings.backup_tz)
        now = now or datetime.now(timezone.utc)
        out = {}
        for db in sorted(found) if databases is None else databases:
            cands = [Candidate(b.timestamp, True, b.key) for b in found.get(db, [])]
            decision = decide(cands, policy, now, tz)
            out[db] = Retained(db, list(decision.keep), list(decision.delete))
            if not dry_run and decision.delete:
                bucket.delete(self.settings, decision.delete, s3=self.client)
                log.info("pruned %d off-site backup(s) of %s", len(decision.delete), db)
        return out

    def url(self, ref: str) -> str:
        return bucket.url_for(self.settings, ref)

    def listing(self, databases: list[str]) -> list[dict[str, Any]]:
        wanted = set(databases)
        return [
            {
                "database": b.database,
                "url": bucket.url_for(self.settings, b.key),
                "taken_at": b.timestamp.isoformat(),
                "size_bytes": b.size_bytes,
                "uploaded_at": b.last_modified.isoformat(),
            }
            for b in bucket.list_backups(self.settings, s3=self.client)
            if not wanted or b.database in wanted
        ]

    def stored_bytes(self) -> int | None:
        return None  # would mean listing the whole bucket

    def maintenance_due(self) -> bool:
        return False

    def maintenance(self) -> dict[str, Any] | None:
        return None  # nothing to collect: retention deletes the objects themselves


def upload_missing(settings: Settings, db: str, client: Any) -> list[str]:
    """Upload every backup of db that the policy keeps and that has no verified copy yet."""
    policy = Policy.from_settings(settings)
    kept = decide(
        local_candidates(local_backups(settings, db)),
        policy,
        datetime.now(timezone.utc),
        zoneinfo.ZoneInfo(settings.backup_tz),
    ).keep
    uploaded = []
    for path, _why in sorted(kept, key=lambda k: k[0].name):
        if read_checksum(path) is None:
            continue  # not a good backup: never shipped as one
        key = bucket.key_for(settings, db, path.name)
        if offsite_url(path) == bucket.url_for(settings, key):
            continue
        url = bucket.upload(settings, path, db, s3=client)
        mark_offsite(path, url)
        uploaded.append(url)
    return uploaded


@contextlib.contextmanager
def open_source(settings: Settings, text: str, *, purpose: str = "restore") -> Iterator[LocalFile]:
    """s3://BUCKET/KEY downloaded (and checked) into a temporary directory of BACKUP_DIR."""
    settings.backup_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{purpose}-", dir=settings.backup_dir) as tmpdir:
        yield LocalFile(bucket.download(settings, text, Path(tmpdir)), text)
