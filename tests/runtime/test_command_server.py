"""The command server (`tenant serve`, the signups program): a command line handed to it runs
in a fork of a warm process exactly as it would have run in place, or runs in place.

Most tests drive the server with a probe command line (tests/support/command_probe.py) to see
what the fork gets; the last ones drive the real `odoo-saas tenant serve` and `tenant
provision` against PostgreSQL (no Odoo needed: the commands end before any template is used).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from odoo_saas_tools.core import runtime_dir
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from tests.support.cli import run_cli
from tests.tenants.conftest import make_fake_odoo

REPO = Path(__file__).resolve().parents[2]
CLIENT = """
import sys
from odoo_saas_tools.runtime import command_client
code = command_client.run_by_server(sys.argv[1:], "probe")
sys.exit(97 if code is None else code)
"""
SNEAKY = """
import socket, sys
from odoo_saas_tools.runtime import command_client
request = command_client.encode_request(["tenant", "provision", "echo", "0"], "probe")
with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
    sock.connect(sys.argv[1])
    sock.settimeout(20)
    try:
        socket.send_fds(sock, [request], [0, 1, 2])
        print("reply", sock.recv(1))
    except (BrokenPipeError, ConnectionResetError):  # hung up on before or after the request
        print("reply", b"")
"""
IN_PLACE = 97  # the probe client's exit code when the server did not take the command


@pytest.fixture
def start_server(saas_env: dict[str, str]) -> Iterator[Callable[..., subprocess.Popen]]:
    started: list[subprocess.Popen] = []

    def start(*argv: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        env = env or saas_env
        sock = Settings.from_env(env).command_socket
        proc = subprocess.Popen(
            list(argv) or [sys.executable, "-m", "tests.support.command_probe"],
            cwd=REPO,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        deadline = time.monotonic() + 30
        while not answers(sock):
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


def client(
    env: dict[str, str], *args: str, cwd: Path | None = None, **kw: object
) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CLIENT, "tenant", "provision", *args],
        env=env,
        cwd=cwd or REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,  # type: ignore[arg-type]
    )


def stop(server: subprocess.Popen) -> str:
    server.terminate()
    return server.communicate(timeout=30)[1]


def test_the_fork_gets_the_clients_arguments_directory_umask_environment_and_stdio(
    saas_env: dict[str, str], start_server, tmp_path: Path
) -> None:
    server = start_server()
    here = tmp_path / "here"
    here.mkdir()
    proc = client(
        {**saas_env, "PROBE_VALUE": "from the client"},
        "echo",
        "5",
        cwd=here,
        preexec_fn=lambda: os.umask(0o027),
    )
    out, err = proc.communicate("typed on stdin", timeout=60)

    assert proc.returncode == 5, err
    seen = json.loads(out)
    assert seen["argv"] == ["tenant", "provision", "echo", "5"]
    assert seen["cwd"] == str(here)
    assert seen["umask"] == 0o027
    assert seen["probe_value"] == "from the client"
    assert seen["stdin"] == "typed on stdin"
    assert seen["stdout_tty"] is False
    assert seen["pid"] not in (proc.pid, server.pid)  # a fork of the server ran it
    assert err == "a line on stderr\n"
    assert "tenant provision echo 5: exit 5 in" in stop(server)


def test_uncaught_errors_and_sys_exit_end_as_they_would_in_place(
    saas_env: dict[str, str], start_server
) -> None:
    start_server()
    proc = client(saas_env, "raise")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "RuntimeError: boom in the command" in err and "Traceback" in err
    for arg, code, text in (("3", 3, ""), ("a message", 1, "a message\n")):
        proc = client(saas_env, "exit", arg)
        _, err = proc.communicate(timeout=60)
        assert (proc.returncode, err) == (code, text)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"])
def test_a_stopped_or_killed_client_unwinds_its_command_in_the_server(
    saas_env: dict[str, str], start_server, tmp_path: Path, signum: int
) -> None:
    """TERM is passed on; a client killed outright takes its command with it the same way,
    instead of leaving it to finish unseen."""
    start_server()
    mark = tmp_path / "mark"
    proc = client(saas_env, "wait", str(mark))
    assert proc.stdout is not None
    assert proc.stdout.readline() == "waiting\n"
    proc.send_signal(signum)
    info = proc.communicate(timeout=30)
    deadline = time.monotonic() + 20
    while not mark.exists():
        assert time.monotonic() < deadline, f"the command kept running: {info}"
        time.sleep(0.05)
    assert mark.read_text() == "unwound"
    # TERM: the client ends with the command's own exit code, after it unwound
    assert proc.returncode == (130 if signum == signal.SIGTERM else -signal.SIGKILL)


def test_without_a_server_or_with_a_stale_socket_the_command_runs_in_place(
    saas_env: dict[str, str], start_server
) -> None:
    proc = client(saas_env, "echo", "0")
    proc.communicate(timeout=60)
    assert proc.returncode == IN_PLACE
    sock = Settings.from_env(saas_env).command_socket
    sock.parent.mkdir(parents=True, exist_ok=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock))  # a server killed with -9 leaves this behind
    stale.close()
    proc = client(saas_env, "echo", "0")
    proc.communicate(timeout=60)
    assert proc.returncode == IN_PLACE
    start_server()  # a new server takes the stale path over
    proc = client(saas_env, "echo", "4")
    proc.communicate(timeout=60)
    assert proc.returncode == 4


def test_other_code_and_unparsable_settings_are_left_to_the_client(
    saas_env: dict[str, str], start_server
) -> None:
    """The client then runs the command itself: it says what is wrong with its settings."""
    server = start_server()
    proc = client({**saas_env, "ODOO_DB_PORT": "not-a-port"}, "echo", "0")
    proc.communicate(timeout=60)
    assert proc.returncode == IN_PLACE
    other = subprocess.run(
        [sys.executable, "-c", CLIENT.replace('"probe"', '"0.0.0"'), "tenant", "provision"],
        env=saas_env,
        capture_output=True,
        check=False,
    )
    assert other.returncode == IN_PLACE
    log = stop(server)
    assert "left to the client: the client's settings do not parse" in log
    assert "left to the client: client version 0.0.0, server probe" in log


def test_the_client_guesses_the_socket_the_settings_name(saas_env: dict[str, str]) -> None:
    for value in ("/srv/run", " /srv/run/ ", None):
        env = dict(saas_env)
        env.pop(runtime_dir.VARIABLE, None)
        if value is not None:
            env[runtime_dir.VARIABLE] = value
        expected = Settings.from_env(env).command_socket
        assert Path(runtime_dir.guess_command_socket(env)) == expected


def test_tenant_serve_runs_provision_calls_with_each_clients_settings(
    saas_env: dict[str, str], settings: Settings, start_server, request: pytest.FixtureRequest
) -> None:
    """The real commands: exit codes, messages and --json as in place, the prefix of the
    client's environment, one log line per call; a second server is refused; TERM removes
    the socket."""
    name = "acme" + uuid.uuid4().hex[:8]  # the cluster is the session's
    for db in (f"odoo_{name}", f"crm_{name}"):
        make_fake_odoo(settings, db)
        request.addfinalizer(lambda db=db: databases.drop(settings, db))
    server = start_server(sys.executable, "-m", "odoo_saas_tools", "tenant", "serve")

    exists = run_cli(saas_env, "tenant", "provision", name)
    assert exists.returncode == 3
    assert (
        exists.stderr == f"odoo-saas: error: tenant odoo_{name} already exists: nothing changed\n"
    )
    crm = {**saas_env, "TENANT_DB_PREFIX": "crm_"}
    as_json = run_cli(crm, "tenant", "provision", name, "--json")
    assert as_json.returncode == 3
    assert json.loads(as_json.stdout) == {"database": f"crm_{name}", "url": None, "created": False}
    bad = run_cli(saas_env, "tenant", "provision", "no/slash")
    assert bad.returncode == 2 and "no/slash" in bad.stderr

    # what the client imported: none of what the command needs
    importtime = [sys.executable, "-X", "importtime", "-m", "odoo_saas_tools"]
    timed = subprocess.run(
        [*importtime, "tenant", "provision", name],
        env=saas_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert timed.returncode == 3
    imported = {line.rsplit("|", 1)[-1].strip() for line in timed.stderr.splitlines()}
    assert "odoo_saas_tools.runtime.command_client" in imported
    assert not imported & {"psycopg2", "argparse", "logging", "odoo_saas_tools.core.settings"}

    again = run_cli(saas_env, "tenant", "serve")
    assert again.returncode == 1 and "another command server is running" in again.stderr

    log = stop(server)
    assert server.returncode == 0
    assert not settings.command_socket.exists()
    assert f"tenant provision {name}: exit 3 in" in log
    assert f"tenant provision {name} --json: exit 3 in" in log
    assert "tenant provision no/slash: exit 2 in" in log


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as two users")
def test_a_server_serves_only_its_own_user(
    saas_env: dict[str, str], start_server, request: pytest.FixtureRequest
) -> None:
    """root's `docker exec` never has its command run by the runtime user's server, and a
    server never runs another user's command, even when the socket is reachable by mistake."""
    import pwd

    nobody = pwd.getpwnam("nobody")
    as_nobody = [
        "setpriv",
        f"--reuid={nobody.pw_uid}",
        f"--regid={nobody.pw_gid}",
        "--clear-groups",
    ]
    run_dir = Path(tempfile.mkdtemp(prefix="nobody-run-"))  # pytest's tmp is root's only
    request.addfinalizer(lambda: shutil.rmtree(run_dir, ignore_errors=True))
    run_dir.chmod(0o755)
    os.chown(run_dir, nobody.pw_uid, nobody.pw_gid)
    env = {**saas_env, runtime_dir.VARIABLE: str(run_dir)}
    server = start_server(*as_nobody, sys.executable, "-m", "tests.support.command_probe", env=env)
    proc = client(env, "echo", "0")  # root, at a socket of nobody's
    proc.communicate(timeout=60)
    assert proc.returncode == IN_PLACE
    stop(server)

    server = start_server(env=env)  # root's server, its socket opened up by mistake
    run_dir.chmod(0o777)
    (run_dir / runtime_dir.COMMAND_SOCKET).chmod(0o777)
    sneaky = subprocess.run(  # skips the client's own check of the socket's owner
        [*as_nobody, sys.executable, "-c", SNEAKY, str(run_dir / runtime_dir.COMMAND_SOCKET)],
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        check=False,
    )
    assert sneaky.returncode == 0, sneaky.stderr
    assert sneaky.stdout == "reply b''\n"  # hung up on, nothing started
    assert ": exit" not in stop(server)
