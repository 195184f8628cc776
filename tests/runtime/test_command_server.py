"""The command server (`tenant serve`, the signups program): a command line handed to it runs
in a fork of a warm process exactly as it would have run in place, or runs in place.

Most tests drive the server with a probe command line (tests/support/command_probe.py) to see
what the fork gets; others drive the real `odoo-saas tenant serve` and `tenant provision`
against PostgreSQL (no Odoo needed: the commands end before any template is used). Root never
hands a command over, so servers and clients run as the runtime user (tests/support/users.py);
the attacks run a fake server as another user.
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
from odoo_saas_tools.runtime import command_server
from tests.support.cli import run_cli
from tests.support.users import NOBODY, STRANGER_UID, as_runtime_user, as_uid, runtime_uid
from tests.support.wait import wait_until
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
    reply = b""
    try:
        socket.send_fds(sock, [request], [0, 1, 2])
        while chunk := sock.recv(64):  # to the end: hanging up would stop a command started
            reply += chunk
    except (BrokenPipeError, ConnectionResetError):  # hung up on before or after the request
        pass
    print("reply", reply[:1])
"""
IN_PLACE = 97  # the probe client's exit code when the server did not take the command
FAKE = """
import json, os, signal, socket, sys
# A fake command server: bound by root at argv[1], its socket file given to uid argv[2], then
# listening as uid argv[3] (a peer's credentials are those of the listen() call). It records
# what each client hands it and answers what a hostile server would: "it ran, exit 0".
path, owner, uid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(path)
os.chown(path, owner, owner)
os.setgroups([])
os.setgid(uid)
os.setuid(uid)
listener.listen(16)
listener.settimeout(0.1)
stopping = []
signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
print("ready", flush=True)
while not stopping:
    try:
        conn, _ = listener.accept()
    except TimeoutError:
        continue
    with conn:
        conn.settimeout(10)
        data, fds = b"", []
        try:
            data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 8)
            if data:
                conn.sendall(b"SX" + (0).to_bytes(4, "big"))
            while chunk := conn.recv(1 << 20):
                data += chunk
        except OSError:
            pass
        record = {"bytes": len(data), "fds": len(fds), "env": b"ODOO_ADMIN_PASSWD=" in data}
        print(json.dumps(record), flush=True)
        for fd in fds:
            os.close(fd)
"""
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as several users")


@pytest.fixture
def start_server(saas_env: dict[str, str]) -> Iterator[Callable[..., subprocess.Popen]]:
    started: list[subprocess.Popen] = []

    def start(
        *argv: str, env: dict[str, str] | None = None, user: list[str] | None = None
    ) -> subprocess.Popen:
        """The probe server (or argv), as the runtime user unless user says who."""
        env = env or saas_env
        sock = Settings.from_env(env).command_socket
        proc = subprocess.Popen(
            [
                *(as_runtime_user() if user is None else user),
                *(argv or [sys.executable, "-m", "tests.support.command_probe"]),
            ],
            cwd=REPO,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)

        def up() -> bool:
            assert proc.poll() is None, proc.communicate()[1]
            return answers(sock)

        wait_until(up, 30, "the server to answer")
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
    """The probe client, as the runtime user."""
    return subprocess.Popen(
        [*as_runtime_user(), sys.executable, "-c", CLIENT, "tenant", "provision", *args],
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
    wait_until(mark.exists, 20, f"the command to unwind: {info}")
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
    other_version = CLIENT.replace('"probe"', '"0.0.0"')
    other = subprocess.run(
        [*as_runtime_user(), sys.executable, "-c", other_version, "tenant", "provision"],
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
    user = as_runtime_user()

    exists = run_cli(saas_env, "tenant", "provision", name, prefix=user)
    assert exists.returncode == 3
    assert (
        exists.stderr == f"odoo-saas: error: tenant odoo_{name} already exists: nothing changed\n"
    )
    crm = {**saas_env, "TENANT_DB_PREFIX": "crm_"}
    as_json = run_cli(crm, "tenant", "provision", name, "--json", prefix=user)
    assert as_json.returncode == 3
    assert json.loads(as_json.stdout) == {"database": f"crm_{name}", "url": None, "created": False}
    bad = run_cli(saas_env, "tenant", "provision", "no/slash", prefix=user)
    assert bad.returncode == 2 and "no/slash" in bad.stderr

    # what the client imported: none of what the command needs
    importtime = [*user, sys.executable, "-X", "importtime", "-m", "odoo_saas_tools"]
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

    again = run_cli(saas_env, "tenant", "serve", prefix=user)
    assert again.returncode == 1 and "another command server is running" in again.stderr

    log = stop(server)
    assert server.returncode == 0
    assert not settings.command_socket.exists()
    assert f"tenant provision {name}: exit 3 in" in log
    assert f"tenant provision {name} --json: exit 3 in" in log
    assert "tenant provision no/slash: exit 2 in" in log


@needs_root
def test_a_server_serves_only_its_own_user(
    saas_env: dict[str, str], start_server, request: pytest.FixtureRequest
) -> None:
    """A server never runs another user's command, even when its socket is reachable by
    mistake (the client's own checks are skipped here)."""
    nobody = as_uid(NOBODY.pw_uid, NOBODY.pw_gid)
    run_dir = Path(tempfile.mkdtemp(prefix="nobody-run-"))  # pytest's tmp is root's only
    request.addfinalizer(lambda: shutil.rmtree(run_dir, ignore_errors=True))
    env = {**saas_env, runtime_dir.VARIABLE: str(run_dir)}
    server = start_server(env=env, user=[])  # root's server, its socket opened up by mistake
    run_dir.chmod(0o777)
    (run_dir / runtime_dir.COMMAND_SOCKET).chmod(0o777)
    sneaky = subprocess.run(
        [*nobody, sys.executable, "-c", SNEAKY, str(run_dir / runtime_dir.COMMAND_SOCKET)],
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        check=False,
    )
    assert sneaky.returncode == 0, sneaky.stderr
    assert sneaky.stdout == "reply b''\n"  # hung up on, nothing started
    assert ": exit" not in stop(server)


@pytest.fixture
def fake_server() -> Iterator[Callable[..., Callable[[], list[dict]]]]:
    """FAKE at a path: start(path, owner, uid) -> a function that stops it and returns what
    each client handed it."""
    started: list[subprocess.Popen] = []

    def start(path: Path, owner: int, uid: int) -> Callable[[], list[dict]]:
        proc = subprocess.Popen(
            [sys.executable, "-c", FAKE, str(path), str(owner), str(uid)],
            cwd="/",
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"

        def records() -> list[dict]:
            proc.terminate()
            out, _ = proc.communicate(timeout=30)
            return [json.loads(line) for line in out.splitlines()]

        return records

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def plant(planted: str, path: Path, fake_server, owner: int, uid: int) -> Callable[[], list]:
    """What the client finds at its socket's path: a fake server of uid reached through it
    (its socket file given to owner), or a plain file of owner's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if planted == "file":
        path.write_text("not a socket")
        os.chown(path, owner, owner)
        return list
    if planted == "link":
        elsewhere = Path(tempfile.mkdtemp(prefix="elsewhere-")) / "server.sock"
        records = fake_server(elsewhere, owner, uid)
        path.symlink_to(elsewhere)
        return records
    return fake_server(path, owner, uid)


def provision_no_slash(env: dict[str, str], user: list[str]) -> subprocess.CompletedProcess:
    """The real command, with a name that ends it in place with exit 2 (a server faking
    success would make it 0)."""
    return run_cli(env, "tenant", "provision", "no/slash", prefix=user, timeout=60)


@needs_root
@pytest.mark.parametrize("planted", ["runtime-users", "given-to-root", "link", "file"])
def test_root_hands_nothing_to_any_server_and_runs_the_command_itself(
    saas_env: dict[str, str], fake_server, planted: str
) -> None:
    """The runtime directory is the runtime user's: whatever listens there (its server, or one
    an addon started instead) never gets root's environment, terminal or arguments, even when
    the socket file looks root's (given-to-root) or a link leads to such a socket."""
    owner = NOBODY.pw_uid if planted == "runtime-users" else 0
    records = plant(
        planted, Settings.from_env(saas_env).command_socket, fake_server, owner, NOBODY.pw_uid
    )
    done = provision_no_slash(saas_env, user=[])
    assert (done.returncode, "no/slash" in done.stderr) == (2, True), done
    assert records() == []  # root did not even connect


@needs_root
@pytest.mark.parametrize("planted", ["given-to-the-client", "link", "file"])
def test_a_client_hands_nothing_to_a_server_of_another_user(
    saas_env: dict[str, str], fake_server, start_server, planted: str
) -> None:
    """A server of another uid, however the path leads to it, gets nothing: the socket file
    given to the client's uid passes every check of the path, only the peer's credentials
    (SO_PEERCRED) tell. The same client is then served by its own user's server."""
    path = Settings.from_env(saas_env).command_socket
    records = plant(planted, path, fake_server, runtime_uid(), STRANGER_UID)
    user = as_runtime_user()
    done = provision_no_slash(saas_env, user)
    assert (done.returncode, "no/slash" in done.stderr) == (2, True), done
    assert all(r == {"bytes": 0, "fds": 0, "env": False} for r in records()), "handed over"

    path.unlink()
    server = start_server(sys.executable, "-m", "odoo_saas_tools", "tenant", "serve")
    assert provision_no_slash(saas_env, user).returncode == 2
    assert "tenant provision no/slash: exit 2 in" in stop(server)


def sneak(env: dict[str, str], argv: list[str]) -> str:
    """argv sent straight to the server's socket by its own user; the server's reply."""
    code = SNEAKY.replace('["tenant", "provision", "echo", "0"]', repr(argv))
    path = str(Settings.from_env(env).command_socket)
    done = subprocess.run(
        [*as_runtime_user(), sys.executable, "-c", code, path],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["db", "drop", "x"],
        ["tenant", "spares", "--fill"],
        ["-v", "tenant", "serve"],
        ["tenant", "provision", "x", "--help"],
        ["tenant"],
        [],
    ],
    ids=["db-drop", "spares", "serve", "help", "group", "none"],
)
def test_the_server_runs_no_other_command_than_tenant_provision(
    saas_env: dict[str, str], start_server, argv: list[str]
) -> None:
    """Sent straight to the socket, skipping the client's own choice: declined, nothing run."""
    server = start_server()
    assert sneak(saas_env, argv) == f"reply {command_server.DECLINED!r}\n"
    assert "reply b'S'\n" in sneak(saas_env, ["tenant", "provision", "echo", "0"])  # its output too
    log = stop(server)
    assert log.count(": exit") == 1 and "tenant provision echo 0: exit 0" in log
    assert "left to the client: it serves tenant provision only" in log


HOLD = """
import json, os, socket, sys
from odoo_saas_tools.runtime import command_client, command_server
path, marks = sys.argv[1], sys.argv[2]
null = os.open(os.devnull, os.O_RDWR)


def ask(argv):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sock.settimeout(30)
    try:
        socket.send_fds(sock, [command_client.encode_request(argv, "probe")], [null] * 3)
    except OSError:  # declined and hung up on before the request was read
        pass
    return sock, sock.recv(1)


held = [
    ask(["tenant", "provision", "wait", f"{marks}/{i}"]) for i in range(command_server.MAX_FORKS)
]
_, extra = ask(["tenant", "provision", "echo", "0"])
print(json.dumps({"held": [r.decode() for _, r in held], "extra": extra.decode()}))
"""


def test_concurrent_commands_are_bounded_and_the_next_runs_in_place(
    saas_env: dict[str, str], start_server, tmp_path: Path
) -> None:
    """MAX_FORKS commands running at once: one more is declined (its client runs it in place,
    never waits); once they end, the server takes commands again."""
    server = start_server()
    path = str(Settings.from_env(saas_env).command_socket)
    held = subprocess.run(
        [*as_runtime_user(), sys.executable, "-c", HOLD, path, str(tmp_path)],
        env=saas_env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert held.returncode == 0, held.stderr
    seen = json.loads(held.stdout)
    assert seen == {"held": ["S"] * command_server.MAX_FORKS, "extra": "R"}
    wait_until(  # the holder is gone: its commands unwind
        lambda: len(list(tmp_path.iterdir())) >= command_server.MAX_FORKS,
        30,
        "the held commands to unwind",
    )
    deadline = time.monotonic() + 30
    while True:  # the server reaps them within a second
        proc = client(saas_env, "echo", "4")
        proc.communicate(timeout=60)
        if proc.returncode != IN_PLACE:
            break
        assert time.monotonic() < deadline, "the server stayed full"
    assert proc.returncode == 4
    log = stop(server)
    assert "tenant provision echo 0: exit" not in log
    assert f"left to the client: {command_server.MAX_FORKS} commands running" in log
