"""The command server: runs the command lines runtime/command_client.py hands it, each in a
fork of a process that has already imported what they need.

One process (supervisord's `signups` program, started as `odoo-saas tenant serve`: the names
hosters see, docs/architecture.md) listens on a 0600 Unix socket in the runtime directory and
forks once per connection; it runs no thread, so a fork never inherits a lock taken halfway.
The fork checks the request, takes the client's descriptors as its stdin/stdout/stderr, its
working directory, umask and environment (the settings are built from that environment, as in
the client), runs the command line and sends the exit code back. Only clients of the server's
own user are served: a command runs with the rights it would have had in place (and root's
commands never come here, runtime/command_client.py). Only `tenant provision` is served, and
at most MAX_FORKS at once: anything else runs in place, in the client.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.runtime import command_client
from odoo_saas_tools.runtime.command_client import (
    DECLINED,
    EXITED,
    MAGIC,
    STARTED,
    TERMINATE,
    peer_uid,
    recv_exactly,
)

log = logging.getLogger(__name__)

# Commands running at once. A burst of 20 signups (bench/README) fits with room to spare; each
# served signup holds up to two PostgreSQL connections (64 of PostgreSQL's default 100), and a
# fork shares the server's 26 MB (13 MB its own: at most ~0.4 GB if all 32 rewrote all of it).
# Beyond it the client runs the command itself: slower, never refused nor waiting.
MAX_FORKS = 32
# The names hosters know it by (supervisord's program, its log lines; the command word is
# `tenant serve`): kept for compatibility, while the code calls it the command server.
PROGRAM = "signups"
MAX_REQUEST = 1 << 20  # arguments and environment: far more than any real one
REQUEST_SECONDS = 5.0  # a client that connects and says nothing is dropped
CommandLine = Callable[[list[str]], int]


def serve(settings: Settings, run: CommandLine, version: str) -> None:
    """Answer clients until TERM; commands already running finish on their own."""
    command_client.disabled = True  # the forks run commands, they must not hand them back here
    path = settings.command_socket
    listener, inode = _listen(path)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("answering %s on %s", ", ".join(" ".join(c) for c in command_client.DELEGATED), path)
    if os.geteuid() == 0:
        log.warning("running as root: root's commands always run in place, none will come here")
    forks: set[int] = set()
    try:
        while not stopping:
            ready, _, _ = select.select([listener], [], [], 1.0)  # 1 s: TERM and reaping
            _reap(forks)
            if stopping or not ready:
                continue
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                if peer_uid(conn) != os.geteuid():
                    continue
                _reap(forks)
                if len(forks) >= MAX_FORKS:
                    log.info("left to the client: %d commands running", len(forks))
                    with contextlib.suppress(OSError):
                        conn.sendall(DECLINED)  # one byte on a new connection: never blocks
                    continue
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:  # never returns into this loop, whatever happens
                    code = 1
                    try:
                        listener.close()
                        code = _child(conn, path, run, version)
                    finally:
                        os._exit(code)
                forks.add(pid)
    finally:
        listener.close()
        _remove_if_ours(path, inode)
    log.info("stopped")


def _listen(path: Path) -> tuple[socket.socket, tuple[int, int]]:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if _answers(path):
            raise SaasError(f"{path}: another command server is running")
        path.unlink()  # left by a server that was killed
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old)
    listener.listen(128)
    listener.setblocking(False)
    st = path.stat()
    return listener, (st.st_dev, st.st_ino)


def _answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _remove_if_ours(path: Path, inode: tuple[int, int]) -> None:
    """A newer server may have taken the path over meanwhile: its socket stays."""
    with contextlib.suppress(OSError):
        st = path.stat()
        if (st.st_dev, st.st_ino) == inode:
            path.unlink()


def _reap(forks: set[int]) -> None:
    """Forget the forks that ended."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            forks.clear()
            return
        if pid == 0:
            return
        forks.discard(pid)


class Request:
    def __init__(self, payload: bytes, fds: list[int]) -> None:
        fields = [os.fsdecode(f) for f in payload.split(b"\0")]
        self.version, self.cwd, umask, argc = fields[:4]
        self.umask = int(umask)
        end = 4 + int(argc)
        self.argv = fields[4:end]
        self.env = dict(f.split("=", 1) for f in fields[end:] if "=" in f)
        self.fds = fds


def _receive(conn: socket.socket) -> Request | None:
    conn.setblocking(True)
    conn.settimeout(REQUEST_SECONDS)
    try:
        head, fds, _, _ = socket.recv_fds(conn, 8, 3)
        head += recv_exactly(conn, 8 - len(head))
        if len(head) < 8 or head[:4] != MAGIC or len(fds) != 3:
            return None
        size = int.from_bytes(head[4:8], "big")
        if size > MAX_REQUEST:
            return None
        payload = recv_exactly(conn, size)
        if len(payload) < size:
            return None
        conn.settimeout(None)
        return Request(payload, fds)
    except (OSError, ValueError):
        return None


def _declines(request: Request, path: Path, version: str) -> str | None:
    """Why the client should run the command itself, if it should (the fork is in the
    client's working directory by now)."""
    if not command_client.delegable(request.argv):  # sent by something else than the client
        return "it serves tenant provision only"
    if request.version != version:
        return f"client version {request.version}, server {version}"
    try:
        settings = Settings.from_env(request.env)
    except SaasError:
        return "the client's settings do not parse (it says why)"
    if os.path.realpath(settings.command_socket) != os.path.realpath(path):
        return f"the client's runtime directory is {settings.runtime_dir}"
    return None


def _child(conn: socket.socket, path: Path, run: CommandLine, version: str) -> int:
    """In the fork: one command line, run as it would have run in the client."""
    request = _receive(conn)
    if request is None:
        return 1
    try:
        os.chdir(request.cwd)
        why = _declines(request, path, version)
    except OSError as exc:
        why = f"cannot enter {request.cwd}: {exc.strerror}"
    if why is not None:
        log.info("left to the client: %s", why)
        with contextlib.suppress(OSError):
            conn.sendall(DECLINED)
        return 0
    server_log = _become_client(request)
    done = threading.Event()
    threading.Thread(target=_watch_client, args=(conn, done), daemon=True).start()
    started = time.monotonic()
    conn.sendall(STARTED)
    code = _run(run, request.argv)
    done.set()
    for sig in (signal.SIGTERM, signal.SIGINT):  # too late to stop: only the exit code is left
        signal.signal(sig, signal.SIG_IGN)
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    with contextlib.suppress(OSError):
        conn.sendall(EXITED + code.to_bytes(4, "big", signed=True))
    line = f"{' '.join(request.argv)}: exit {code} in {time.monotonic() - started:.2f} s"
    with contextlib.suppress(OSError):
        os.write(
            server_log, f"{time.strftime('%Y-%m-%d %H:%M:%S')} [{PROGRAM}] INFO {line}\n".encode()
        )
    return code


def _become_client(request: Request) -> int:
    """Its descriptors, umask and environment, default signal handling; returns a descriptor
    of the server's own stderr (supervisord's log), which keeps a line per command."""
    server_log = os.dup(2)
    for target, fd in enumerate(request.fds):
        os.dup2(fd, target)
        os.close(fd)
    os.umask(request.umask)
    os.environ.clear()
    os.environ.update(request.env)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    tty = os.isatty(1)
    sys.stdin = sys.__stdin__ = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = sys.__stdout__ = open(  # noqa: SIM115
        1, "w", buffering=1 if tty else -1, closefd=False
    )
    sys.stderr = sys.__stderr__ = open(  # noqa: SIM115
        2, "w", buffering=1, errors="backslashreplace", closefd=False
    )
    return server_log


def _watch_client(conn: socket.socket, done: threading.Event) -> None:
    """TERM the command when the client asks (Ctrl-C there) or disappears."""
    while not done.is_set():
        try:
            data = conn.recv(1)
        except OSError:
            data = b""
        if done.is_set():
            return
        if data in (b"", TERMINATE):
            # at the main thread: a signal the kernel gave this one would not interrupt the
            # command's blocking call, and its handler would wait until that call returned
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGTERM)
        if not data:
            return


def _run(run: CommandLine, argv: list[str]) -> int:
    """The exit code Python would give the same command line in place."""
    try:
        return int(run(argv) or 0)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return int(exc.code or 0)
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:  # what Python prints for an uncaught exception, and exits 1 for
        traceback.print_exc()
        return 1
