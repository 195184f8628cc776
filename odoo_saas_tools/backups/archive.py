"""The backup container: Odoo's zip layout, written in one pass and read back safely.

A zip backup is exactly what Odoo's database manager writes (`dump.sql`, `manifest.json`,
`filestore/<xx>/<sha1>`); the `dump` format uses the same container with a custom-format
`db.dump` instead of `dump.sql`. Attachments are stored, not deflated (they are mostly
compressed media already), so writing and extracting them costs little more than a copy.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import IO, Any

from odoo_saas_tools.core.errors import SaasError

PLAIN_MEMBER = "dump.sql"
CUSTOM_MEMBER = "db.dump"
MANIFEST_MEMBER = "manifest.json"
FILESTORE_PREFIX = "filestore/"
_CHUNK = 1024 * 1024

# Kinds of backup files restore understands, detected from content (not only the name).
ZIP_PLAIN = "zip"  # Odoo's layout: dump.sql (+ filestore)
ZIP_CUSTOM = "dump"  # our dump format: db.dump (+ filestore)
PG_CUSTOM = "pgdump"  # a bare `pg_dump -Fc` file (Odoo's own "dump" format, no filestore)
SQL_GZ = "sql.gz"
SQL = "sql"


class HashingWriter:
    """A write-only file wrapper that computes sha256 and size of everything written.

    It offers tell() but no seek(), so zipfile writes a streaming zip (data descriptors)
    and the checksum is known when the last byte is written: no second read of the file.
    """

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self._hash = hashlib.sha256()
        self._size = 0

    def write(self, data: Any) -> int:
        self._hash.update(data)
        n = self._fh.write(data)
        self._size += len(data)
        return n

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        self._fh.flush()

    @property
    def size(self) -> int:
        return self._size

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def filestore_relpath(store_fname: str) -> str:
    """Where Odoo finds an attachment's file inside the filestore (ir.attachment._full_path).

    Odoo drops '.' and ':' and leading/trailing slashes, which also keeps the path inside.
    """
    return re.sub(r"[.:]", "", store_fname).strip("/\\")


def add_file(zf: zipfile.ZipFile, src: Path, arcname: str, *, deflate: bool = False) -> int:
    """Copy a file into the zip (stored unless deflate); returns its size."""
    info = zipfile.ZipInfo.from_file(src, arcname)
    info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    if deflate:
        # Level 1: several times faster than the default for a few percent more bytes.
        info._compresslevel = 1  # type: ignore[attr-defined]  # (an alias in Python >= 3.13)
    with open(src, "rb") as fh, zf.open(info, "w") as out:
        shutil.copyfileobj(fh, out, _CHUNK)
    return info.file_size


def add_bytes(zf: zipfile.ZipFile, arcname: str, data: bytes) -> None:
    info = zipfile.ZipInfo(arcname, date_time=_now_tuple())
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def _now_tuple() -> tuple[int, int, int, int, int, int]:
    import time

    return time.localtime()[:6]


# --- reading ----------------------------------------------------------------------------------
def detect(path: Path) -> str:
    """What kind of backup a file is, from its first bytes (and the zip's members)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise SaasError(f"cannot read {path}: {exc.strerror}") from exc
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        names = zip_names(path)
        if PLAIN_MEMBER in names:
            return ZIP_PLAIN
        if CUSTOM_MEMBER in names:
            return ZIP_CUSTOM
        raise SaasError(f"{path} is a zip but holds neither {PLAIN_MEMBER} nor {CUSTOM_MEMBER}")
    if head.startswith(b"PGDMP"):
        return PG_CUSTOM
    if head.startswith(b"\x1f\x8b"):
        return SQL_GZ
    if path.name.endswith(".sql") and _looks_like_text(head):
        return SQL
    raise SaasError(f"{path} is not a backup this tool reads (zip, dump, .sql.gz or .sql expected)")


def _looks_like_text(head: bytes) -> bool:
    return bool(head) and b"\x00" not in head


def zip_names(path: Path) -> set[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            return set(zf.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise SaasError(f"{path} is not a readable zip file: {exc}") from exc


def safe_member(name: str) -> str | None:
    """The path below filestore/ of a zip member, or None for anything that could escape it."""
    if not name.startswith(FILESTORE_PREFIX) or name.endswith("/"):
        return None
    rel = PurePosixPath(name[len(FILESTORE_PREFIX) :])
    if rel.is_absolute() or not rel.parts or any(p in ("", ".", "..") for p in rel.parts):
        raise SaasError(f"refusing backup member {name!r}: it points outside the filestore")
    if "\\" in name or "\x00" in name:
        raise SaasError(f"refusing backup member {name!r}: unexpected characters")
    return str(rel)


def extract_filestore(
    zf: zipfile.ZipFile, dest: Path, progress: Callable[[int], None] | None = None
) -> int:
    """Extract every filestore/ member of an open zip into dest; returns the file count.

    Members are checked before anything is written (no '..', no absolute paths) and each
    file's CRC is verified by zipfile while it is read.
    """
    members = [(info, rel) for info in zf.infolist() if (rel := safe_member(info.filename))]
    made: set[Path] = set()
    for info, rel in members:
        target = dest / rel
        parent = target.parent
        if parent not in made:
            parent.mkdir(parents=True, exist_ok=True)
            made.add(parent)
        with zf.open(info) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)
        if progress:
            progress(1)
    return len(members)


def extract_member(zf: zipfile.ZipFile, name: str, dest: Path) -> None:
    with zf.open(name) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, _CHUNK)


def fsync_dir(path: Path) -> None:
    """Make a rename in path durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
