"""PostgreSQL's disk as this process can see it: only when the server runs on this host.

PostgreSQL tells no client how much room its disk has left. When it runs on this host (a socket
directory or a loopback address) and lets us read where its data directory is (superuser or
pg_read_all_settings), that directory's file system can be measured here; a server in another
container or on another machine cannot, and then only a configured bound protects its disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import connect

_LOOPBACK = {"", "localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class Disk:
    path: Path  # the data directory
    device: int
    free: int  # bytes an unprivileged writer may still use


def data_disk(settings: Settings) -> Disk | None:
    """The disk of PostgreSQL's data directory, or None when it cannot be seen from here."""
    if not (settings.db_host.startswith("/") or settings.db_host in _LOOPBACK):
        return None
    try:
        with connect(settings) as conn, conn.cursor() as cr:
            cr.execute("SELECT current_setting('data_directory')")
            path = Path(cr.fetchone()[0])
    except (psycopg2.Error, SaasError):
        return None  # not allowed to ask: the server's rights, not ours to widen
    try:
        st = os.stat(path)
        vfs = os.statvfs(path)
    except OSError:
        return None  # a loopback address into another container: not this file system
    # PostgreSQL writes as a non-root user: root's reserved blocks are no room for it
    return Disk(path, st.st_dev, vfs.f_bavail * vfs.f_frsize)
