"""Small builders for backup tests: real files with real names and checksums."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from odoo_saas_tools.backups.names import backup_name, sha256_file, write_checksum


def make_backup(
    directory: Path, db: str, when: datetime, size: int = 4096, fmt: str = "zip"
) -> Path:
    """A finished backup file (random bytes: the format does not matter here) + sidecar."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / backup_name(db, fmt, when)
    path.write_bytes(os.urandom(size))
    write_checksum(path, sha256_file(path))
    return path
