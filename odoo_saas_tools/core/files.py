"""Files on disk done one way each: the atomic write, the trusted read, the file lock.

A file is written so readers see the old or the new content, never half, never someone else's:
the temporary file is made by mkstemp (O_CREAT|O_EXCL, mode 0600, a random name), so a link
planted in the directory by another user can never redirect the write; it is fsync'ed, given
its mode and owner through the descriptor, then renamed over the target.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import stat
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import IO, Any

from odoo_saas_tools.core.errors import ConfigError

log = logging.getLogger(__name__)


def path_component(name: str, what: str = "database name") -> str:
    """name, if it can be one file name inside a directory of ours and nothing else.

    Database names come back from PostgreSQL, where anything is allowed (`../../x`): every one
    passes here before it becomes part of a path (filestore, backup folder, status file).
    """
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise ConfigError(f"{what} {name!r} cannot be used as a file name: refusing it")
    return name


def atomic_write(
    path: Path,
    data: str | bytes,
    *,
    mode: int = 0o600,
    uid: int | None = None,
    gid: int | None = None,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    import tempfile  # not at import: most commands write no file (start-up cost)

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        if uid is not None:
            os.fchown(fd, uid, gid if gid is not None else -1)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def file_lock(path: Path, *, blocking: bool = True, shared: bool = False) -> Iterator[IO[bytes]]:
    """Hold flock on path (made 0600 if missing) for the with block: the one file lock.

    Yields the lock file, open for reading and writing (a holder may note its pid there).
    blocking=False raises BlockingIOError at once when another process holds the lock;
    shared=True lets other shared holders in. A link at path is refused (O_NOFOLLOW): a lock
    in a directory someone else can write never opens, nor truncates, another file. The lock
    goes with the descriptor: when the block ends, or the process dies.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "r+b", buffering=0) as fh:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        fcntl.flock(fd, mode if blocking else mode | fcntl.LOCK_NB)
        yield fh


def atomic_write_json(path: Path, data: Any, *, mode: int = 0o600) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=mode)


def read_trusted_json(path: Path, owners: Collection[int]) -> Any:
    """The JSON in path if one of owners wrote it, else None (missing, damaged, or not theirs).

    The memos odoo-saas keeps on the data volume sit in a folder the runtime user (and every
    addon) can write: a file there is read only when it is a regular file (not a link), owned by
    one of owners and writable by nobody else, so no one outside owners decides what it says.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            return None
        if st.st_uid not in owners or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            log.warning("ignoring %s: not written by odoo-saas (owner or mode)", path)
            return None
        try:
            return json.load(fh)
        except (OSError, ValueError, RecursionError):  # deeply nested lists: RecursionError
            return None


class WriteBehind:
    """Writes a file's pages back to disk from a thread while the file is still being written.

    A backup counts only once fsync'ed; left to the end, that fsync waits for the whole file
    (~1 s for the 580 MiB benchmark backup) while the CPU has nothing to do. Synced every
    `step` bytes instead, the disk works while the CPU copies, and the last fsync waits for the
    last step only (bench/README.md, eighth pass: backup 3.6-3.9 s -> 3.0-3.2 s). Linux reports
    a write-back error to one fsync of an open file only: one the thread sees is kept and
    raised by sync(), so no error is lost to it.
    """

    def __init__(self, fd: int, step: int = 64 << 20) -> None:
        import threading  # not at import: most commands write no file (start-up cost)

        self._fd = fd
        self._step = step
        self._next = step
        self._error: OSError | None = None
        self._stopping = False
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WriteBehind:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def wrote(self, total: int) -> None:
        """total bytes are written so far: start writing them back when a step is full."""
        if total >= self._next:
            self._next = total + self._step
            self._wake.set()

    def sync(self) -> None:
        """Wait until the whole file is on disk; the first write-back error, if any."""
        self._stop()
        os.fsync(self._fd)
        if self._error is not None:
            raise self._error

    def _stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            try:
                os.fdatasync(self._fd)
            except OSError as exc:
                self._error = self._error or exc
