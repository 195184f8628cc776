"""Started as root (`docker run --user root`), with stdout a pipe or a file owned by root.

Container runtimes hand the container's stdio to its user; our drop to ODOO_SAAS_USER must do
the same, or supervisord (reopening /dev/stdout as that user) dies with EACCES and nothing serves.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import stack_environment
from tests.runtime.stack import Stack, reachable_for_others, standin_bin
from tests.support.net import free_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="starting as root needs root")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def root_env(pg) -> Iterator[tuple[dict[str, str], Path]]:
    """A stack environment under a directory the runtime user (nobody) may enter."""
    root = Path(tempfile.mkdtemp(prefix="odoo-saas-root-start-"))
    root.chmod(0o755)
    bindir = root / "bin"
    bindir.mkdir(mode=0o755)
    http_port = free_port()
    env = stack_environment(
        pg,
        root,
        ODOO_SAAS_USER="nobody",
        ODOO_BIN=str(standin_bin(bindir)),
        ODOO_DEPS_DIR=str(root / "data" / "python-deps"),
        ODOO_HTTP_PORT=str(http_port),
        ODOO_GEVENT_PORT=str(free_port()),
        ODOO_METRICS_ENABLED="true",
        ODOO_METRICS_PORT=str(free_port()),
        ODOO_METRICS_BIND="127.0.0.1",
        ODOO_AUTO_BACKUP="true",
        ODOO_STOP_TIMEOUT="5",
        ODOO_WORKERS="2",
        ODOO_DB_WAIT_TIMEOUT="20",
    )
    yield env, root
    shutil.rmtree(root, ignore_errors=True)


def start_as_root(env: dict[str, str], root: Path, stdout_file: Path | None = None) -> Stack:
    prelude = reachable_for_others([Path(sys.executable), Path(sys.prefix), REPO], root)
    return Stack(env, stdout_file=stdout_file, prelude=prelude)


def check_serves_and_logs(stack: Stack, env: dict[str, str]) -> None:
    try:
        for program in ("odoo", "backup-scheduler", "metrics"):
            stack.wait_running(program, timeout=60)
        nobody = pwd.getpwnam("nobody").pw_uid
        assert {p.uids().real for p in stack.pid1().children(recursive=True)} == {nobody}
        assert stack.pid1().uids().real == nobody
        port = env["ODOO_HTTP_PORT"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/web/health", timeout=10) as r:
            assert r.status == 200
        # every program's lines, and supervisord's own, reach the stdout we gave
        for text in ("[odoo] standin-odoo: serving", "[metrics]", "[backup-scheduler]"):
            stack.wait_output(text)
        stack.wait_output("success: odoo entered RUNNING state")
        assert stack.terminate(timeout=60) == 0, stack.output
        assert "[odoo] standin-odoo: stopped" in stack.output
        assert "Permission denied" not in stack.output
    finally:
        stack.kill()


def test_root_start_with_stdout_a_root_owned_pipe(root_env):
    env, root = root_env
    stack = start_as_root(env, root)
    check_serves_and_logs(stack, env)


def test_root_start_with_stdout_a_root_owned_file(root_env):
    env, root = root_env
    log = root / "container.log"
    log.touch(mode=0o644)
    assert log.stat().st_uid == 0 and stat.S_IMODE(log.stat().st_mode) == 0o644
    stack = start_as_root(env, root, stdout_file=log)
    check_serves_and_logs(stack, env)
