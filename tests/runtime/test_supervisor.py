"""The real supervisord as PID 1 (own PID namespace), driven through supervisorctl.

Odoo itself is replaced by the stand-in (tests/support/odoo_standin.py) so that crashes and
signals can be provoked; test_odoo_stack.py runs the same stack with real Odoo.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from tests.runtime.stack import (
    Stack,
    environ_of,
    process_cmdlines,
    reachable_for_others,
    standin_bin,
)
from tests.support.net import free_port, wait_port
from tests.support.wait import wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="unshare --pid needs root")


@pytest.fixture
def stack_env(saas_env, tmp_path):
    return {
        **saas_env,
        "ODOO_BIN": str(standin_bin(tmp_path)),
        "ODOO_HTTP_PORT": str(free_port()),
        "ODOO_GEVENT_PORT": str(free_port()),
        "ODOO_METRICS_ENABLED": "false",
        "ODOO_AUTO_BACKUP": "false",
        "ODOO_STOP_TIMEOUT": "5",
        "ODOO_WORKERS": "2",
        "ODOO_DB_WAIT_TIMEOUT": "20",
    }


@pytest.fixture
def stack(stack_env):
    s = Stack(stack_env)
    yield s
    s.kill()


def odoo_pid(stack: Stack) -> int:
    """Odoo's pid as written in its pid file (a pid of the stack's namespace)."""
    return int((stack.runtime / "odoo.pid").read_text())


def odoo_process(stack: Stack) -> psutil.Process:
    """The Odoo process seen from outside the namespace."""
    for proc in stack.pid1().children(recursive=True):
        cmd = proc.cmdline()
        if "server" in cmd and "-c" in cmd:
            return proc
    raise AssertionError("no odoo process in the stack")


def test_stack_runs_odoo_under_supervisord_as_pid1(stack, stack_env):
    stack.wait_running("odoo")
    assert stack.pid1().name().startswith("python")
    assert "supervise" in " ".join(stack.pid1().cmdline())
    wait_port(int(stack_env["ODOO_HTTP_PORT"]))
    status = stack.status()
    assert status["odoo"][0] == "RUNNING"
    assert "watchdog" in status
    # Odoo's output reaches the container log with the program's name
    stack.wait_output("[odoo] standin-odoo: serving")
    # supervisorctl's socket: only its owner may connect
    sock = stack.runtime / "supervisor.sock"
    assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o700
    # and it wants the per-start password from the 0600 config
    anonymous = stack.runtime / "anonymous.conf"
    anonymous.write_text(f"[supervisorctl]\nserverurl = unix://{sock}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(anonymous), "status"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "Server requires authentication" in proc.stdout + proc.stderr


def test_odoo_gets_a_clean_environment_and_no_secret_is_on_a_command_line(stack, stack_env):
    stack.wait_running("odoo")
    env = environ_of(odoo_process(stack).pid)
    assert env["ODOO_RC"] == str(stack.runtime / "odoo.conf")
    leaked = {k for k in env if k.startswith(("ODOO_DB", "PG", "AWS_", "ODOO_ADMIN"))}
    assert leaked == set()
    secrets = [stack_env["ODOO_DB_PASSWORD"], stack_env["ODOO_ADMIN_PASSWD"]]
    for cmdline in process_cmdlines():
        for secret in secrets:
            assert secret not in cmdline


def test_a_killed_odoo_is_restarted(stack):
    stack.wait_running("odoo")
    first = odoo_pid(stack)
    odoo_process(stack).send_signal(signal.SIGKILL)
    wait_until(
        lambda: odoo_pid(stack) != first and stack.status()["odoo"][0] == "RUNNING",
        30,
        lambda: f"odoo restarted: {stack.status()}\n{stack.output}",
        interval=0.3,
        ignore=(FileNotFoundError, ValueError),  # between the old pid file and the new one
    )
    assert odoo_process(stack).is_running()


def test_sigterm_stops_odoo_gracefully_and_exits_0(stack):
    stack.wait_running("odoo")
    started = time.monotonic()
    code = stack.terminate(timeout=30)
    elapsed = time.monotonic() - started
    assert code == 0, stack.output
    assert elapsed < 5 + 5, f"shutdown took {elapsed:.1f} s"
    # Odoo got exactly one TERM (a second one would make it stop hard) and finished cleanly
    assert stack.output.count("[odoo] standin-odoo: got SIGTERM") == 1
    assert "[odoo] standin-odoo: stopped" in stack.output
    # supervisord's own lines reach the container log once each (a real container showed
    # every one twice), and the watchdog ends as a normal stop, not as an interrupted command
    assert stack.output.count("supervisord started with pid") == 1, stack.output
    assert stack.output.count("stopped: odoo (exit status 0)") == 1, stack.output
    assert "stopped: watchdog (exit status 0)" in stack.output, stack.output
    assert "interrupted" not in stack.output


def test_fatal_odoo_ends_supervisord_with_failure(stack_env):
    runtime = Path(stack_env["ODOO_SAAS_RUNTIME_DIR"])
    runtime.mkdir(exist_ok=True)
    (runtime / "crash").write_text("")
    s = Stack(stack_env)
    try:
        code = s.proc.wait(90)
    finally:
        s.kill()
    assert code == 1, s.output
    assert "odoo could not be kept running (FATAL); exiting 1" in s.output
    assert s.output.count("standin-odoo: crashing on purpose") >= 2  # it was retried first


def test_postgres_unreachable_is_one_clear_error(stack_env):
    env = {**stack_env, "ODOO_DB_PORT": str(free_port()), "ODOO_DB_WAIT_TIMEOUT": "2"}
    s = Stack(env)
    try:
        code = s.proc.wait(30)
    finally:
        s.kill()
    assert code == 1
    assert f"PostgreSQL at 127.0.0.1:{env['ODOO_DB_PORT']} did not answer within 2 s" in s.output


def test_all_programs_run_when_enabled(stack_env):
    metrics_port = free_port()
    env = {
        **stack_env,
        "ODOO_METRICS_ENABLED": "true",
        "ODOO_AUTO_BACKUP": "true",
        "ODOO_METRICS_PORT": str(metrics_port),
        "ODOO_METRICS_BIND": "127.0.0.1",
    }
    s = Stack(env)
    try:
        for program in ("odoo", "backup-scheduler", "metrics"):
            s.wait_running(program)
        wait_port(metrics_port)
        s.wait_output("[metrics]")
        s.wait_output("[backup-scheduler]")
        assert s.terminate(timeout=60) == 0, s.output
    finally:
        s.kill()


@pytest.mark.parametrize("role", ["all", "web"])
def test_no_process_odoo_can_read_holds_secrets_it_does_not_need(stack_env, role):
    """Issue 11 item 12: /proc/<supervisord>/environ (Odoo's uid) held the clear master
    password, the S3 secret and the DB password. Now the master password is nowhere in the
    tree, and the S3 secret only in the backup scheduler's role."""
    s3_secret = "aws-secret-key-4e1f-never-for-odoo"
    env = {
        **stack_env,
        "ODOO_SAAS_ROLE": role,
        "ODOO_AUTO_BACKUP": "true",
        "AWS_S3_BUCKET": "bucket",
        "AWS_ACCESS_KEY_ID": "AKIDTEST",
        "AWS_SECRET_ACCESS_KEY": s3_secret,
        "ODOO_SMTP_SERVER": "smtp.example.com",
        "ODOO_SMTP_PASSWORD": "smtp-secret-9a7c",
    }
    s = Stack(env)
    try:
        s.wait_running("odoo")
        tree = [s.pid1(), *s.pid1().children(recursive=True)]
        for proc in tree:
            values = environ_of(proc.pid).values()
            assert env["ODOO_ADMIN_PASSWD"] not in values, proc.cmdline()
            assert "smtp-secret-9a7c" not in values, proc.cmdline()
            # role all: supervisord must hold the keys to start the scheduler, under Odoo's
            # uid: that is what the warning says (split the roles); role web never has them
            if role == "web":
                assert s3_secret not in values, proc.cmdline()
        if role == "all":
            s.wait_running("backup-scheduler")
            assert "the S3 keys run under Odoo's user in role all" in s.output
        assert s.terminate(timeout=60) == 0, s.output
    finally:
        s.kill()


def test_health_of_a_role_without_odoo_follows_its_program(stack_env):
    """A real container showed the image's HEALTHCHECK failing in backup and metrics containers
    (it looked for Odoo); it now asks supervisord about the role's program."""
    env = {**stack_env, "ODOO_SAAS_ROLE": "metrics", "ODOO_METRICS_PORT": str(free_port())}

    def check_health() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "odoo_saas_tools", "health"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    s = Stack(env)
    try:
        s.wait_running("metrics")
        health = check_health()
        assert health.returncode == 0, health.stdout + health.stderr
        assert "ok    programs: metrics RUNNING" in health.stdout
        s.ctl("stop", "metrics")
        health = check_health()
        assert health.returncode == 1, health.stdout
        assert "not running: metrics" in health.stdout
    finally:
        s.kill()


def test_the_signups_program_serves_tenant_provision(stack_env, settings, request):
    """PROVISION_SPARES > 0: supervisord runs `signups` beside `spares`, and a `tenant provision`
    run from outside by the runtime user (root's always run in place) is answered by it. The
    stand-in Odoo builds no template, so the spares program keeps failing quietly; an existing
    tenant needs none."""
    import uuid

    from odoo_saas_tools.postgres import databases
    from tests.support.cli import run_cli
    from tests.support.users import as_runtime_user, runtime_uid
    from tests.tenants.conftest import make_fake_odoo

    name = "acme" + uuid.uuid4().hex[:8]  # the cluster is the session's
    make_fake_odoo(settings, f"odoo_{name}")
    request.addfinalizer(lambda: databases.drop(settings, f"odoo_{name}"))
    for var in ("ODOO_DATA_DIR", "ODOO_SAAS_RUNTIME_DIR", "BACKUP_DIR"):  # the runtime user's
        os.chown(stack_env[var], runtime_uid(), -1)
    bindir = Path(tempfile.mkdtemp(prefix="odoo-saas-bin-"))  # the runtime user reaches it
    request.addfinalizer(lambda: shutil.rmtree(bindir, ignore_errors=True))
    os.chmod(bindir, 0o755)
    env = {**stack_env, "PROVISION_SPARES": "1", "ODOO_BIN": str(standin_bin(bindir))}
    repo = Path(__file__).resolve().parents[2]
    prelude = reachable_for_others([Path(sys.executable), Path(sys.prefix), repo], bindir)
    s = Stack(env, user=as_runtime_user(), prelude=prelude)
    try:
        s.wait_running("signups")
        wait_until(settings.command_socket.exists, 30, lambda: f"the command socket:\n{s.output}")
        out = run_cli(stack_env, "tenant", "provision", name, prefix=as_runtime_user())
        assert out.returncode == 3, out.stderr
        assert f"tenant odoo_{name} already exists" in out.stderr
        s.wait_output(f"[signups] INFO tenant provision {name}: exit 3 in")
        assert s.terminate(timeout=60) == 0, s.output
        assert not settings.command_socket.exists()
    finally:
        s.kill()
