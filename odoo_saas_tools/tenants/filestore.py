"""Filestores (`<data_dir>/filestore/<db>`): copy by hard links, remove, rename, measure.

Odoo's filestore is content-addressed: a file is written once under its SHA-1 and never changed
in place, so two databases can share one inode safely. A hard-linked copy of a 500 MB filestore
takes milliseconds and no space; across filesystems the bytes are copied.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
from pathlib import Path

from odoo_saas_tools.core.errors import ConfigError, SaasError
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)


def same_filesystem(src: Path, dst: Path) -> bool:
    """Whether dst (or its nearest existing parent) is on src's filesystem."""
    probe = dst
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return os.stat(src).st_dev == os.stat(probe).st_dev


def _temp_name(dst: Path) -> Path:
    return dst.with_name(f".{dst.name}.tmp-{os.getpid()}")


def copy_tree(src: Path, dst: Path, *, link: bool = True) -> str:
    """Copy src to dst (which must not exist): hard links when possible, else bytes.

    Built under a hidden temporary name and renamed at the end, so dst is either complete or
    absent. Returns "hardlink", "copy" or "none" (src missing: nothing to copy).
    """
    if not src.is_dir():
        return "none"
    if dst.exists():
        raise SaasError(f"filestore {dst} already exists")
    dst.parent.mkdir(parents=True, exist_ok=True)
    mode = "hardlink" if link and same_filesystem(src, dst.parent) else "copy"
    tmp = _temp_name(dst)
    remove(tmp)
    try:
        if mode == "hardlink":
            _link_tree(src, tmp)
        else:
            shutil.copytree(src, tmp, symlinks=True)
        tmp.rename(dst)
    except OSError as exc:
        remove(tmp)
        raise SaasError(f"copying filestore {src} to {dst} failed: {exc.strerror or exc}") from exc
    except BaseException:
        remove(tmp)
        raise
    return mode


def _link_tree(src: Path, dst: Path) -> None:
    os.mkdir(dst)
    for root, dirs, files in os.walk(src):
        target = os.path.join(dst, os.path.relpath(root, src))
        for d in dirs:
            os.mkdir(os.path.join(target, d))
        for f in files:
            os.link(os.path.join(root, f), os.path.join(target, f), follow_symlinks=False)


def remove(path: Path) -> None:
    """Remove a filestore tree if present (errors other than 'absent' are raised). Anything
    but a directory is unlinked, never opened (opening a FIFO would wait for a writer)."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def rename(src: Path, dst: Path) -> bool:
    """Move src to dst (dst must not exist); False when there was no src to move."""
    if not src.exists():
        return False
    if dst.exists():
        raise SaasError(f"filestore {dst} already exists")
    try:
        os.rename(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise SaasError(f"moving filestore {src} to {dst} failed: {exc.strerror}") from exc
        shutil.move(src, dst)
    return True


def listed_path(settings: Settings, name: str) -> Path | None:
    """name's filestore, None for a database name no directory can have (`a/b`): such a
    database is listed and measured without a filestore, not a failed listing."""
    try:
        return settings.filestore(name)
    except ConfigError:
        return None


def size(path: Path) -> int:
    """Bytes of the files under path (0 when absent); a hard-linked file counts for each copy."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, f)).st_size
    return total
