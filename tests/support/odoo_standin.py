"""The one stand-in for Odoo where tests need no real Odoo: a real process tree.

Run as a script with options, the "master" writes its pid file (as Odoo's `pidfile` option
does), starts children (one titled like Odoo's gevent process), each holding some resident
memory, and optionally answers /web/health like Odoo, or accepts connections and never answers
(a hung Odoo). Run as `odoo server -c CONF` (see tests/runtime/stack.standin_bin), it reads
http_port and pidfile from the config like Odoo, prints a line on each signal it gets, finishes
gracefully on TERM and crashes at start when a file `crash` sits next to the config (to drive
a supervisord program into FATAL). Real-Odoo tests use the real thing.
"""

from __future__ import annotations

import argparse
import configparser
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

SCRIPT = Path(__file__).resolve()
HOLD_MB = 24


def hold_memory(mb: int) -> bytearray:
    block = bytearray(mb * 1024 * 1024)
    for i in range(0, len(block), 4096):  # touch every page so it is resident
        block[i] = 1
    return block


class Health(http.server.BaseHTTPRequestHandler):
    db_ok = True

    def do_GET(self) -> None:
        payload: dict[str, object] = {"status": "pass"}
        status = 200
        if "db_server_status" in self.path:
            payload["db_server_status"] = self.db_ok
            if not self.db_ok:
                payload["status"], status = "fail", 500
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve(port: int, mode: str) -> None:
    if mode == "hang":
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(16)
        held = []
        while True:  # accept, read nothing, answer nothing
            conn, _ = sock.accept()
            held.append(conn)
    Health.db_ok = mode != "db-down"
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Health).serve_forever()


def server_mode(conf_path: str) -> None:
    """`odoo server -c CONF`: what the supervisord tests drive."""
    if os.path.exists(os.path.join(os.path.dirname(conf_path), "crash")):
        print("standin-odoo: crashing on purpose", flush=True)
        sys.exit(3)
    conf = configparser.RawConfigParser()
    conf.read(conf_path)
    options = conf["options"]
    print(f"standin-odoo: env keys {sorted(os.environ)}", flush=True)
    Path(options["pidfile"]).write_text(str(os.getpid()))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(options["http_port"])), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        print(f"standin-odoo: got {signal.Signals(signum).name}", flush=True)
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    print("standin-odoo: serving", flush=True)
    stopping.wait()
    time.sleep(0.5)  # finishing requests in flight, as Odoo's graceful shutdown does
    server.shutdown()
    os.unlink(options["pidfile"])
    print("standin-odoo: stopped", flush=True)


def main() -> None:
    if "server" in sys.argv and "-c" in sys.argv:
        server_mode(sys.argv[sys.argv.index("-c") + 1])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--pidfile")
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument("--http-port", type=int)
    parser.add_argument("--mode", default="pass", choices=("pass", "hang", "db-down"))
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--busy", action="store_true", help="children burn CPU")
    parser.add_argument("role", nargs="?", default="")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.child:
        held = hold_memory(HOLD_MB)  # noqa: F841 - kept resident until the end
        while True:
            if args.busy:
                sum(range(100_000))
            else:
                time.sleep(1)
    children = []
    for i in range(args.children):
        argv = [sys.executable, str(SCRIPT), "--child"]
        if args.busy:
            argv.append("--busy")
        if i == 0:
            argv.append("gevent")  # Odoo starts its gevent process with a `gevent` argument
        children.append(subprocess.Popen(argv))

    def stop(*_: object) -> None:
        for child in children:
            child.terminate()
        for child in children:
            child.wait()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    if args.pidfile:
        Path(args.pidfile).write_text(f"{os.getpid()}\n")
    if args.http_port:
        serve(args.http_port, args.mode)
    while True:
        time.sleep(1)


class FakeOdoo:
    """Start the tree (and server) from a test; stop() ends every process of it."""

    def __init__(
        self,
        runtime_dir: Path,
        *,
        children: int = 2,
        http_port: int | None = None,
        mode: str = "pass",
        busy: bool = False,
    ) -> None:
        self.pidfile = Path(runtime_dir) / "odoo.pid"
        argv = [sys.executable, str(SCRIPT), "--pidfile", str(self.pidfile)]
        argv += ["--children", str(children), "--mode", mode]
        if http_port:
            argv += ["--http-port", str(http_port)]
        if busy:
            argv.append("--busy")
        self.proc = subprocess.Popen(argv)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.pidfile.exists() and len(self.tree()) == children + 1:
                # children are resident once they sleep; give them a moment to touch pages
                time.sleep(0.5)
                break
            time.sleep(0.05)
        else:
            self.stop()
            raise TimeoutError("fake Odoo tree did not start")
        if http_port:
            from tests.support.net import wait_port

            wait_port(http_port, 15)

    def tree(self) -> list[int]:
        try:
            master = psutil.Process(self.proc.pid)
            return [master.pid, *(c.pid for c in master.children(recursive=True))]
        except psutil.Error:
            return []

    def rss_from_proc(self) -> int:
        """Resident memory of the tree as the kernel reports it (VmRSS), independently of psutil."""
        total = 0
        for pid in self.tree():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                for pid in self.tree():
                    os.kill(pid, signal.SIGKILL)
                self.proc.wait(5)


if __name__ == "__main__":
    main()
