"""Data, filestore, sessions and backup directories: present, writable by us, with room.

Runs after the entrypoint fixed ownership and dropped to the runtime user, so "writable" is
tested as that user, by really creating a file (a read-only mount or a full disk shows up here,
not at the first upload).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path

from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.output import human_size
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.preflight.findings import ERROR, OK, WARNING, Report
from odoo_saas_tools.runtime import privileges

MIB = 1024**2


def directories(settings: Settings) -> list[tuple[str, Path, bool]]:
    """(label, path, required): the backup directory only matters when backups are scheduled."""
    return [
        ("data dir", settings.data_dir, True),
        ("filestore", settings.filestore_root, True),
        ("sessions", settings.sessions_dir, True),
        ("backup dir", settings.backup_dir, settings.runs_backup_scheduler),
    ]


def check_directory(
    settings: Settings, label: str, path: Path, required: bool, report: Report
) -> None:
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
    other = _runtime_user_problem(settings, path)
    if other:
        report.add("directories", str(path), bad, f"{label}: {other}")
        return
    free = shutil.disk_usage(path).free
    if free < settings.min_free_disk_mb * MIB:
        report.add(
            "directories",
            str(path),
            WARNING,
            f"{label}: only {human_size(free)} free "
            f"(ODOO_MIN_FREE_DISK_MB={settings.min_free_disk_mb})",
        )
        return
    report.add("directories", str(path), OK, f"{label}: writable, {human_size(free)} free")


def _runtime_user_problem(settings: Settings, path: Path) -> str | None:
    """Run as root (`docker exec`), the file test proves nothing: judge the runtime user's
    access from the permission bits, as the start (which drops to that user) will meet them."""
    if os.geteuid() != 0 or settings.runtime_user == "root":
        return None
    try:
        user = privileges.lookup(settings.runtime_user)
    except ConfigError:
        return None  # the entrypoint reports an unknown user
    st = path.stat()
    if st.st_uid == user.uid:
        ok = st.st_mode & stat.S_IWUSR and st.st_mode & stat.S_IXUSR
    elif st.st_gid in os.getgrouplist(user.name, user.gid):
        ok = st.st_mode & stat.S_IWGRP and st.st_mode & stat.S_IXGRP
    else:
        ok = st.st_mode & stat.S_IWOTH and st.st_mode & stat.S_IXOTH
    if ok:
        return None
    return (
        f"not writable by {user.name} (uid {user.uid}); a start as root fixes the ownership "
        "of the data and backup directories"
    )


def check_directories(settings: Settings, report: Report) -> None:
    for label, path, required in directories(settings):
        check_directory(settings, label, path, required, report)
