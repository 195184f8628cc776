"""Starting as root: fix ownership of the writable directories, then drop to the runtime user."""

from __future__ import annotations

import logging
import os
import pwd
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.passwords import is_hashed
from odoo_saas_tools.core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuntimeUser:
    name: str
    uid: int
    gid: int
    home: str


def lookup(name: str) -> RuntimeUser:
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        raise ConfigError(
            f"ODOO_SAAS_USER={name!r}: no such user on this system (started as root, the stack "
            "drops to this user)"
        ) from None
    return RuntimeUser(pw.pw_name, pw.pw_uid, pw.pw_gid, pw.pw_dir)


def fix_ownership(dirs: Iterable[Path], user: RuntimeUser) -> None:
    """Create the directories and hand them to the user; walk a tree only if its top is wrong.

    A volume mounted from the host often arrives owned by root; walking a large filestore at every
    start would be slow, so a tree whose top already belongs to the user is left alone.
    """
    for top in dirs:
        top.mkdir(parents=True, exist_ok=True)
        if top.stat().st_uid == user.uid:
            continue
        log.info("giving %s to %s", top, user.name)
        for root, subdirs, files in os.walk(top):
            os.chown(root, user.uid, user.gid)
            for name in subdirs + files:
                os.lchown(os.path.join(root, name), user.uid, user.gid)


def hand_over_stdio(user: RuntimeUser) -> list[int]:
    """Give the user the stdin/stdout/stderr it will reopen (as /dev/stdout), like runc does.

    Started as root with stdout a pipe or a file of root's (a `docker run --user root`, a log
    redirect), supervisord reopening /dev/stdout after the drop would get EACCES and die. Only
    root's pipes, sockets and regular files are handed over; devices (/dev/null, a terminal) are
    shared with the whole system and left alone. Returns the descriptors changed.
    """
    changed = []
    for fd in (0, 1, 2):
        try:
            st = os.fstat(fd)
        except OSError:
            continue
        kind = stat.S_IFMT(st.st_mode)
        if st.st_uid != 0 or kind not in (stat.S_IFIFO, stat.S_IFSOCK, stat.S_IFREG):
            continue
        try:
            os.fchown(fd, user.uid, user.gid)
        except OSError as exc:  # e.g. a file on a read-only or foreign file system
            log.warning("cannot hand descriptor %d to %s: %s", fd, user.name, exc)
            continue
        changed.append(fd)
    return changed


def drop_to(user: RuntimeUser) -> None:
    """Become the runtime user for good (real, effective and saved ids), with its stdio."""
    if user.uid == 0:
        return
    hand_over_stdio(user)
    os.initgroups(user.name, user.gid)
    os.setgid(user.gid)
    os.setuid(user.uid)
    os.environ["HOME"] = user.home
    os.environ["USER"] = user.name


def clear_master_password_problem(settings: Settings) -> str | None:
    """What to say when this process, not root (Odoo's user, after the drop), can still read the
    file the clear master password came from: so could every addon. Odoo needs the hash only
    (odoo.conf holds it); roles without Odoo have no database manager to guard."""
    password = settings.admin_passwd
    if not settings.runs_odoo or not password or is_hashed(password) or os.geteuid() == 0:
        return None
    source = settings.secret_files.get("ODOO_ADMIN_PASSWD")
    if source is None or not os.access(source, os.R_OK):
        return None
    return (
        f"ODOO_ADMIN_PASSWD_FILE: {source} holds the clear master password and Odoo's user can "
        "read it (so can every addon): store its hash there instead (`odoo-saas hash-password`), "
        "or start the container as root with the file readable by root only"
    )


def give_to_runtime_user(user_name: str, paths: Iterable[Path]) -> None:
    """Run as root (e.g. `docker exec`), hand files we just made to the runtime user.

    Otherwise Odoo (running as that user) could not add attachments to a restored filestore
    and the scheduler could not prune a backup directory made by root. Trees are walked.
    """
    if os.geteuid() != 0:
        return
    user = lookup(user_name)
    if user.uid == 0:
        return
    for top in paths:
        if not top.exists():
            continue
        os.lchown(top, user.uid, user.gid)
        if top.is_dir() and not top.is_symlink():
            for root, subdirs, files in os.walk(top):
                for name in subdirs + files:
                    os.lchown(os.path.join(root, name), user.uid, user.gid)
