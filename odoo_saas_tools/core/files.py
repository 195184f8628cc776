"""Writing a file so readers see the old or the new content, never half, never someone else's.

The temporary file is made by mkstemp (O_CREAT|O_EXCL, mode 0600, a random name), so a link
planted in the directory by another user can never redirect the write; it is fsync'ed, given
its mode and owner through the descriptor, then renamed over the target.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from odoo_saas_tools.core.errors import ConfigError


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


def atomic_write_json(path: Path, data: Any, *, mode: int = 0o600) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=mode)
