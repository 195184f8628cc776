"""Command lines run as another user (tests run as root in CI): setpriv's prefix.

Root never hands a command to the command server (runtime/command_client.py), so the tests of
served commands run the server and its clients as `nobody`, as the stack runs them as its
runtime user; `nobody` then keeps root's access to files (CAP_DAC_OVERRIDE, nothing else) so
that pytest's root-only directories and the session's shared data directory still serve. Run by
another user, the tests run everything as that user instead.
"""

from __future__ import annotations

import os
import pwd

NOBODY = pwd.getpwnam("nobody")
STRANGER_UID = 4242  # a uid of no account: an attacker that is neither root nor the runtime user


def as_uid(uid: int, gid: int | None = None, *, file_access: bool = False) -> list[str]:
    """The prefix that runs a command line as uid (root only)."""
    prefix = ["setpriv", f"--reuid={uid}", f"--regid={uid if gid is None else gid}"]
    prefix.append("--clear-groups")
    if file_access:
        prefix += ["--inh-caps=+dac_override", "--ambient-caps=+dac_override"]
    return prefix


def as_runtime_user() -> list[str]:
    """The prefix for the runtime user's processes: `nobody` when root runs the tests."""
    if os.geteuid() != 0:
        return []
    return as_uid(NOBODY.pw_uid, NOBODY.pw_gid, file_access=True)


def runtime_uid() -> int:
    return NOBODY.pw_uid if os.geteuid() == 0 else os.geteuid()
