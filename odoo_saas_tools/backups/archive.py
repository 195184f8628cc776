"""The backup container: Odoo's zip layout, written in one pass and read back safely.

A zip backup is exactly what Odoo's database manager writes (`dump.sql`, `manifest.json`,
`filestore/<xx>/<sha1>`); the `dump` format uses the same container with a custom-format
`db.dump` instead of `dump.sql`. Attachments are stored, not deflated (they are mostly
compressed media already), so writing and extracting them costs little more than a copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.files import WriteBehind
from odoo_saas_tools.tenants.checked_files import CheckedFiles

if TYPE_CHECKING:
    from odoo_saas_tools.backups import own_backups

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

    def __init__(self, fh: IO[bytes], behind: WriteBehind | None = None) -> None:
        self._fh = fh
        self._hash = hashlib.sha256()
        self._size = 0
        self._behind = behind

    def write(self, data: Any) -> int:
        self._hash.update(data)
        n = self._fh.write(data)
        self._size += len(data)
        if self._behind is not None:
            self._behind.wrote(self._size)
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
    _copy_in(zf, src, info)
    return info.file_size


def add_attachment(zf: zipfile.ZipFile, src: Path, arcname: str) -> tuple[os.stat_result, str]:
    """Copy an attachment file into the zip (stored); returns its stat once copied and the
    SHA-1 of the bytes copied, which Odoo's name of the file says they should have."""
    info = zipfile.ZipInfo.from_file(src, arcname)
    info.compress_type = zipfile.ZIP_STORED
    digest = hashlib.sha1(usedforsecurity=False)
    return _copy_in(zf, src, info, digest), digest.hexdigest()


def _copy_in(
    zf: zipfile.ZipFile, src: Path, info: zipfile.ZipInfo, digest: hashlib._Hash | None = None
) -> os.stat_result:
    """src's bytes as the member info (also into digest, if given); src's stat once read."""
    # O_NOFOLLOW: a file swapped for a link after it was checked is not followed either
    with (
        os.fdopen(os.open(src, os.O_RDONLY | os.O_NOFOLLOW), "rb") as fh,
        zf.open(info, "w") as out,
    ):
        if digest is None:
            shutil.copyfileobj(fh, out, _CHUNK)
        else:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
        return os.fstat(fh.fileno())


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
    zf: zipfile.ZipFile,
    dest: Path,
    progress: Callable[[int], None] | None = None,
    reuse: FileReuse | None = None,
) -> int:
    """Extract every filestore/ member of an open zip into dest; returns the file count.

    Members are checked before anything is written (no '..', no absolute paths) and each
    file's CRC is verified by zipfile while it is read. A file `reuse` finds already on disk
    holding the member's very bytes is hard-linked instead.
    """
    members = [(info, rel) for info in zf.infolist() if (rel := safe_member(info.filename))]
    made: set[Path] = set()
    for info, rel in members:
        target = dest / rel
        parent = target.parent
        if parent not in made:
            parent.mkdir(parents=True, exist_ok=True)
            made.add(parent)
        if reuse is None or not reuse.link(zf, info, rel, target):
            with zf.open(info) as src, create_new(target) as out:
                shutil.copyfileobj(src, out, _CHUNK)
        if progress:
            progress(1)
    return len(members)


def bytes_to_extract(zf: zipfile.ZipFile, reuse: FileReuse | None) -> int:
    """What the filestore extraction will inflate and write: the files no donor holds."""
    return sum(
        info.file_size
        for info in zf.infolist()
        if (rel := safe_member(info.filename))
        and not (reuse is not None and reuse.probably_has(rel, info.file_size))
    )


_CONTENT_NAME = re.compile(r"[0-9a-f]{2}/([0-9a-f]{40})")


def content_sha1(rel: str) -> str | None:
    """The SHA-1 a filestore file's name (`xx/<sha1>`) says its content has; None for a name
    that is not content-addressed."""
    match = _CONTENT_NAME.fullmatch(rel)
    return match[1] if match else None


def _link_open_file(fd: int, target: Path) -> None:
    """Hard-link the very inode open as fd (whatever its path holds by now) at target.

    linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd/N; os.link calls plain link() (which does not
    follow) unless a directory fd is given, hence the "/" one.
    """
    root = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.link(f"/proc/self/fd/{fd}", target, src_dir_fd=root, follow_symlinks=True)
    finally:
        os.close(root)


class FileReuse:
    """Attachment files taken from filestores already on this volume instead of the backup.

    Odoo names a file by the SHA-1 of its content and never rewrites one, so a file of the same
    name in the tenant being replaced (a roll-back) or in the tenant the backup was taken of (a
    copy) usually holds the member's bytes: a hard link costs no space and no write. A file on
    disk stands in for a member only when both are proven to hold the same bytes, and when it
    is a regular file of the expected owner (no link to a file someone else planted) on the
    same file system. The proof:
    - a backup `db backup` wrote here, unchanged since (`own`, see opened(); own_backups.py):
      its members were hashed as they were written and match their names; so must the file on
      disk, hashed unless a backup or an earlier restore hashed it and it is unchanged since
      (`checked`, a donor's memo: tenants/checked_files.py);
    - any other backup: the member is read and compared with the file on disk, byte for byte.
      A member's name, size and CRC-32 prove nothing (anyone can write them), nor does the
      manifest's word of whose backup it is.
    Otherwise the member is extracted: the restored tenant gets the backup's bytes, never those
    of a file that merely has the name (another tenant's attachment, named in a crafted zip).
    """

    def __init__(
        self,
        donors: list[Path],
        owner_uid: int,
        checked: dict[Path, CheckedFiles] | None = None,
        own: own_backups.Record | None = None,
    ) -> None:
        self.donors = [d for d in donors if d.is_dir()]
        self.owner_uid = owner_uid
        self.checked = checked or {}
        self.own = own  # what `db backup` recorded of the backup file, if it wrote one there
        self.linked = 0
        self.hashed = 0  # files on disk read to check them against their name
        self.compared = 0  # backup members read to compare them with a file on disk
        # None: the backup's members are unproven (each is compared before a link)
        self.damaged_members: frozenset[str] | None = None
        # what the restored filestore holds by link, checked against its name: its own memo
        self.linked_files: dict[str, os.stat_result] = {}

    def opened(self, st: os.stat_result) -> None:
        """The backup is open as the file st describes: if that is the very file `db backup`
        wrote, unchanged since, its members match their names (but the damaged ones)."""
        if self.own is not None and self.own.holds(st):
            self.damaged_members = self.own.damaged

    def probably_has(self, rel: str, size: int) -> bool:
        """A donor holds a file of that name and size (not yet verified: link() does)."""
        for donor in self.donors:
            with contextlib.suppress(OSError):
                if (donor / rel).stat().st_size == size:
                    return True
        return False

    def link(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, rel: str, target: Path) -> bool:
        """Hard-link at target a file on disk proven to hold the member info's bytes."""
        sha1 = content_sha1(rel)
        if sha1 is None or (self.damaged_members is not None and rel in self.damaged_members):
            return False
        for donor in self.donors:
            try:
                fd = os.open(donor / rel, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode) or st.st_uid != self.owner_uid:
                    continue
                if st.st_size != info.file_size:
                    continue
                memo = self.checked.get(donor)
                if self.damaged_members is None:
                    if not self._same_bytes(zf, info, fd):
                        continue
                    named = memo is not None and memo.holds(rel, st)
                elif not self._matches_name(memo, rel, fd, st, sha1):
                    continue
                else:
                    named = True
                _link_open_file(fd, target)
            except OSError:
                continue
            finally:
                os.close(fd)
            self.linked += 1
            if named:
                self.linked_files[rel] = st
            return True
        return False

    def _matches_name(
        self, memo: CheckedFiles | None, rel: str, fd: int, st: os.stat_result, sha1: str
    ) -> bool:
        """The file open as fd (st) holds bytes hashing to sha1, its name."""
        if memo is not None and memo.holds(rel, st):
            return True
        self.hashed += 1
        with open(fd, "rb", closefd=False) as fh:
            if hashlib.file_digest(fh, "sha1").hexdigest() != sha1:
                if memo is not None:
                    memo.forget(rel)
                return False
        if memo is not None:
            memo.record(rel, st)
        return True

    def _same_bytes(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, fd: int) -> bool:
        """The member's bytes, as the backup holds them, are those of the file open as fd."""
        self.compared += 1
        with zf.open(info) as src:
            offset = 0
            while chunk := src.read(_CHUNK):
                if os.pread(fd, len(chunk), offset) != chunk:
                    return False
                offset += len(chunk)
        return os.pread(fd, 1, offset) == b""

    def save_checks(self) -> None:
        """Keep what was hashed for the next restore (the donors' memos, the files' owner's)."""
        for memo in self.checked.values():
            memo.save(self.owner_uid)


# A member that inflates more than this is a zip bomb, not a backup (SQL deflates ~10x).
MAX_RATIO = 200
ROOM_MARGIN = 1.1  # the extracted bytes plus 10 % and FREE_RESERVE must fit
FREE_RESERVE = 256 * 1024**2


def read_manifest(path: Path, kind: str) -> dict | None:
    """manifest.json of a zip backup (ours or Odoo's), or None (other kinds, or none inside)."""
    if kind not in (ZIP_PLAIN, ZIP_CUSTOM):
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            if MANIFEST_MEMBER not in zf.namelist():
                return None
            data = json.loads(zf.read(MANIFEST_MEMBER))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise SaasError(f"{path.name}: unreadable manifest.json: {exc}") from exc
    return data if isinstance(data, dict) else None


def check_room(path: Path, kind: str, dest: Path) -> int:
    """Refuse a zip whose members would fill the data volume (shared by every tenant) or that
    inflate like a zip bomb, before a byte is extracted; returns the bytes it may write on dest.
    zipfile never writes more than a member's declared size, so the declared sizes bound what
    extraction can write. dump.sql counts in the bomb check but goes to PostgreSQL, whose room
    is load_limit's to check (it is spooled on dest only if has_room_for_dump() says so)."""
    if kind not in (ZIP_PLAIN, ZIP_CUSTOM):
        return 0
    with zipfile.ZipFile(path) as zf:
        members = zf.infolist()
    total = 0
    for info in members:
        if info.file_size > 1024**2 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise SaasError(
                f"{path.name}: member {info.filename} would inflate {info.compress_size} bytes "
                f"to {info.file_size} (more than {MAX_RATIO}x): refusing a zip bomb"
            )
        if info.filename != PLAIN_MEMBER:
            total += info.file_size
    probe = existing(dest)
    free = shutil.disk_usage(probe).free
    if not _fits(total, free):
        raise SaasError(
            f"{path.name} needs {total / 1024**2:.0f} MiB on {probe} and only "
            f"{free / 1024**2:.0f} MiB are free (with a margin for the other tenants): "
            "nothing restored"
        )
    return total


def existing(path: Path) -> Path:
    """path, or its nearest parent that exists (what a disk's free space is read on)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _fits(total: int, free: int) -> bool:
    """total bytes fit in free, leaving the margin the other tenants need."""
    return total * ROOM_MARGIN + FREE_RESERVE <= free


def has_room_for_dump(zf: zipfile.ZipFile, dest: Path) -> bool:
    """Whether dest can hold an inflated copy of the zip's dump.sql beside its filestore (the
    parallel load spools it there; without room the dump streams in one connection)."""
    total = sum(i.file_size for i in zf.infolist())
    return _fits(total, shutil.disk_usage(existing(dest)).free)


def extract_member(zf: zipfile.ZipFile, name: str, dest: Path) -> None:
    with zf.open(name) as src, create_new(dest) as out:
        shutil.copyfileobj(src, out, _CHUNK)


def create_new(path: Path) -> IO[bytes]:
    """A new file, 0600, never through a link someone planted (O_EXCL|O_NOFOLLOW): extraction
    as root into a directory the runtime user can write must not write anywhere else."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    return os.fdopen(fd, "wb")


def fsync_dir(path: Path) -> None:
    """Make a rename in path durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
