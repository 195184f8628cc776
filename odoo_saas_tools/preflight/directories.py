"""Data, filestore, sessions and backup directories: present, writable by us, with room.

Runs after the entrypoint fixed ownership and dropped to the runtime user, so "writable" is
tested as that user, by really creating a file (a read-only mount or a full disk shows up here,
not at the first upload).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from odoo_saas_tools.output import human_size
from odoo_saas_tools.preflight.findings import ERROR, OK, WARNING, Report
from odoo_saas_tools.settings import Settings

MIB = 1024**2


def directories(s: Settings) -> list[tuple[str, Path, bool]]:
    """(label, path, required): the backup directory only matters when backups are scheduled."""
    return [
        ("data dir", s.data_dir, True),
        ("filestore", s.filestore_root, True),
        ("sessions", s.sessions_dir, True),
        ("backup dir", s.backup_dir, s.auto_backup),
    ]


def check_directory(s: Settings, label: str, path: Path, required: bool, report: Report) -> None:
    bad = ERROR if required else WARNING
    try:
        path.mkdir(parents=True, exist_ok=True)  # Odoo would create them too; say so now if not
    except OSError as exc:
        report.add("directories", str(path), bad, f"{label}: cannot create: {exc.strerror}")
        return
    if not path.is_dir():
        report.add("directories", str(path), bad, f"{label}: exists but is not a directory")
        return
    try:
        with tempfile.TemporaryFile(dir=path, prefix=".odoo-saas-preflight-"):
            pass
    except OSError as exc:
        why = "read-only file system" if exc.errno == errno.EROFS else exc.strerror
        report.add(
            "directories", str(path), bad, f"{label}: not writable by uid {os.getuid()}: {why}"
        )
        return
    free = shutil.disk_usage(path).free
    if free < s.min_free_disk_mb * MIB:
        report.add(
            "directories",
            str(path),
            WARNING,
            f"{label}: only {human_size(free)} free (ODOO_MIN_FREE_DISK_MB={s.min_free_disk_mb})",
        )
        return
    report.add("directories", str(path), OK, f"{label}: writable, {human_size(free)} free")


def check_directories(s: Settings, report: Report) -> None:
    for label, path, required in directories(s):
        check_directory(s, label, path, required, report)
