"""Size of a tenant's filestore: the attachments Odoo keeps outside PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path


def tree_size(root: Path) -> int:
    """Bytes of the regular files under root (like `du -sb` without directories).

    A file hard-linked several times in the tree (clones share attachments) counts once.
    A missing root is 0: a tenant without attachments has no filestore yet.
    """
    total = 0
    seen: set[int] = set()
    stack = [str(root)]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        st = entry.stat(follow_symlinks=False)
                        if st.st_nlink > 1:
                            if st.st_ino in seen:
                                continue
                            seen.add(st.st_ino)
                        total += st.st_size
                except OSError:
                    continue  # removed by the GC while we walked
    return total
