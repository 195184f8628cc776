"""Hand a command line to the command server (runtime/command_server.py) and wait for its end.

A signup from a spare tenant is 15 ms of work in a process that has everything loaded, but a
fresh `odoo-saas` spends 0.2 s of CPU starting Python and importing psycopg2, the settings
and the tenant code first: twenty signups at once then queue for the two cores. So when the
command server runs, `tenant provision` sends its arguments, environment, working
directory, umask and its stdin/stdout/stderr (the descriptors themselves) to it, and the server
runs the same command line in a fork of its warm process: same output, same exit code, same
terminal. Ctrl-C or a TERM here is passed on, and a client that dies takes its command with it
(the command unwinds as on TERM).

Nothing is handed to a server of another uid than the caller's: the socket is opened without
following links and must be a socket of the caller's, and after connecting the peer's uid
(SO_PEERCRED, fixed when the server listened: no swap of the path can change it) must be the
caller's before a byte or a descriptor is sent. Root never hands a command over at all: the
runtime directory is the runtime user's, and so is anything listening there (the server, or
whatever an addon started in its place). Whenever the server cannot take it (not running,
root, another user's, started from other code or for another runtime directory, too busy),
the command runs here as usual. This module runs before anything else of every command, so it
imports only what Python has loaded at start-up (`stat`, by `os`) and C modules: `socket` and
`signal` would pull in `enum` (10 ms here).
"""

from __future__ import annotations

import _signal
import _socket
import os
import stat
import sys

from odoo_saas_tools.core.runtime_dir import guess_command_socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

# The command lines worth a server: the signup path. Everything else starts as usual.
DELEGATED = {("tenant", "provision")}
MAGIC = b"OSC1"
# server -> client
DECLINED = b"R"  # run it yourself: nothing has happened
STARTED = b"S"  # the command runs; an exit code follows
EXITED = b"X"  # followed by the exit code, 4 bytes
# client -> server
TERMINATE = b"T"  # Ctrl-C, TERM or HUP reached the client
_FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)

disabled = False  # set in the server and its forks: they run commands, never hand them on


def command_words(argv: Sequence[str]) -> list[str]:
    """`db`, `clone` ...: the command words come first, and no option of the top-level or
    group parsers takes a value."""
    return [a for a in argv if not a.startswith("-")][:2]


def delegable(argv: Sequence[str]) -> bool:
    return tuple(command_words(argv)) in DELEGATED and "-h" not in argv and "--help" not in argv


def encode_request(argv: Sequence[str], version: str) -> bytes:
    """Everything the command's outcome depends on besides the descriptors, NUL-separated."""
    umask = os.umask(0o077)
    os.umask(umask)
    fields = [version, os.getcwd(), str(umask), str(len(argv)), *argv]
    fields += [f"{k}={v}" for k, v in os.environ.items()]
    payload = b"\0".join(os.fsencode(f) for f in fields)
    return MAGIC + len(payload).to_bytes(4, "big") + payload


def run_by_server(argv: Sequence[str], version: str) -> int | None:
    """The command's exit code when the server ran it; None when it should run here."""
    if disabled or not delegable(argv) or os.geteuid() == 0:
        return None
    sock = _connect(guess_command_socket(os.environ))
    if sock is None:
        return None
    try:
        request = encode_request(argv, version)
    except OSError:  # no working directory, which the server would need
        sock.close()
        return None
    fds = _standard_fds()
    caught: list[int] = []

    def forward(signum: int, frame: object) -> None:
        caught.append(signum)
        try:  # noqa: SIM105  (contextlib is not loaded at start-up)
            sock.send(TERMINATE)  # read by the command once it runs, even if sent before
        except OSError:
            pass

    previous = {}
    started, code = False, None
    try:
        # from here on a signal is the command's: it may already be running when it arrives
        try:  # noqa: SIM105  (contextlib is not loaded at start-up)
            previous = {sig: _signal.signal(sig, forward) for sig in _FORWARDED}
        except ValueError:
            pass  # not the main thread (cli.main called from a thread): nothing to forward
        if _send(sock, request, fds):
            started, code = _wait(sock)
    finally:
        sock.close()
        for fd in fds[3:]:
            os.close(fd)
        for sig, handler in previous.items():
            _signal.signal(sig, handler)
    if code is None and caught:
        # the command never ran, or died of the signal before it could handle it: the signal
        # ends this process as it would have ended the command run here
        os.kill(os.getpid(), caught[0])
        return 128 + caught[0]  # a handler (Ctrl-C) let this process live on
    if started and code is None:
        os.write(2, b"odoo-saas: error: the command server ended before the command did\n")
        return 1
    return code


def _connect(path: str) -> _socket.socket | None:
    """A connection to a server of this process's own uid, or None (nothing sent).

    The path is opened without following a link and must be a socket of ours; the connection
    goes to that very inode (/proc/self/fd/N; without /proc it runs here), and the peer it
    reaches must be of our uid too:
    the runtime directory may be writable by others, and a check of a path races with
    whoever can rename in it. The peer's credentials cannot race: they are its own."""
    try:
        node = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None  # no server
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        st = os.fstat(node)
        if stat.S_ISSOCK(st.st_mode) and st.st_uid == os.geteuid():
            sock.connect(f"/proc/self/fd/{node}")
            # another user's server would run the command with that user's rights, and see
            # this one's environment and terminal
            if peer_uid(sock) == os.geteuid():
                return sock
    except OSError:
        pass  # not listening (a socket left by a killed server)
    finally:
        os.close(node)
    sock.close()
    return None


def peer_uid(sock: _socket.socket) -> int:
    """The uid of the process at the other end (when it connected, or listened)."""
    creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)  # pid, uid, gid
    return int.from_bytes(creds[4:8], sys.byteorder)


def _send(sock: _socket.socket, request: bytes, fds: list[int]) -> bool:
    fd_bytes = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)
    try:
        sent = sock.sendmsg([request], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fd_bytes)])
        if sent < len(request):
            sock.sendall(request[sent:])
    except OSError:
        return False
    return True


def _standard_fds() -> list[int]:
    """0, 1 and 2, each replaced by /dev/null when closed (cron may close stdin); the
    replacements follow them in the list, to be closed afterwards."""
    out = [0, 1, 2]
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            out[fd] = os.open(os.devnull, os.O_RDWR)
            out.append(out[fd])
    return out


def _wait(sock: _socket.socket) -> tuple[bool, int | None]:
    """Whether the command started, and its exit code if it ended (None: declined, or the
    server went away)."""
    if recv_exactly(sock, 1) != STARTED:
        return False, None
    reply = recv_exactly(sock, 5)
    if len(reply) == 5 and reply[:1] == EXITED:
        return True, int.from_bytes(reply[1:], "big", signed=True)
    return True, None


def recv_exactly(sock: _socket.socket, size: int) -> bytes:
    """size bytes, or fewer when the peer hung up, failed or timed out first."""
    data = b""
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except OSError:
            return data
        if not chunk:
            return data
        data += chunk
    return data
