"""Run `odoo-saas` as a user would: a separate process with only the given environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": os.environ.get("HOME", "/root"),
    }
    env.update(extra or {})
    return env


def run_cli(
    env: Mapping[str, str],
    *args: str,
    timeout: float = 300,
    input: str | None = None,
    check: bool = False,
    prefix: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """prefix: a command that runs it, as another user (tests/support/users.py)."""
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "odoo_saas_tools", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"odoo-saas {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc
