"""Start the real stack (entrypoint -> supervisord) as PID 1 of its own PID namespace."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil

from tests.support.wait import wait_until


class Stack:
    """`unshare --pid --fork --mount-proc odoo-saas entrypoint`, with its output collected."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        stdout_file: Path | None = None,
        prelude: str = "",
        user: list[str] | None = None,
    ) -> None:
        """stdout_file: the stack's stdout and stderr go to this file (opened here, by the
        caller's user) instead of a pipe. prelude: shell run in the new namespaces first.
        user: a prefix that runs the entrypoint as another user (tests/support/users.py)."""
        self.env = env
        self.runtime = Path(env["ODOO_SAAS_RUNTIME_DIR"])
        self.lines: list[str] = []
        self.stdout_file = stdout_file
        entrypoint = [*(user or []), sys.executable, "-m", "odoo_saas_tools", "entrypoint"]
        if prelude:
            entrypoint = ["sh", "-ec", f'{prelude}\nexec "$@"', "sh", *entrypoint]
        out = open(stdout_file, "ab") if stdout_file else subprocess.PIPE  # noqa: SIM115
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", *entrypoint],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if stdout_file:
            out.close()
        else:
            threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        if self.stdout_file:
            return self.stdout_file.read_text(errors="replace")
        return "\n".join(self.lines)

    def pid1(self) -> psutil.Process:
        """The namespace's PID 1 (supervisord), seen from outside."""
        children = wait_until(
            lambda: psutil.Process(self.proc.pid).children(), 10, "unshare's child"
        )
        return children[0]

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "supervisor.supervisorctl",
                "-c",
                str(self.runtime / "supervisord.conf"),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )

    def status(self) -> dict[str, tuple[str, str]]:
        out = {}
        for line in self.ctl("status").stdout.splitlines():
            parts = line.split(None, 2)
            if len(parts) >= 2:
                out[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
        return out

    def wait_running(self, program: str = "odoo", timeout: float = 60) -> None:
        """Until supervisord says program is RUNNING; fails at once if the stack exited."""

        def running() -> bool:
            if self.status().get(program, ("",))[0] == "RUNNING":
                return True
            if self.proc.poll() is not None:
                raise AssertionError(f"stack exited {self.proc.returncode}:\n{self.output}")
            return False

        wait_until(
            running,
            timeout,
            lambda: f"{program} RUNNING: {self.status()}\n{self.output}",
            interval=0.3,
        )

    def wait_output(self, text: str, timeout: float = 30) -> None:
        wait_until(
            lambda: text in self.output,
            timeout,
            lambda: f"{text!r} printed:\n{self.output}",
            interval=0.1,
        )

    def terminate(self, timeout: float = 60) -> int:
        """`docker stop`: SIGTERM to PID 1, then wait."""
        self.pid1().send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):  # it may end meanwhile
                    child.kill()
            self.proc.kill()
            self.proc.wait(10)


def standin_bin(directory: Path) -> Path:
    """The stand-in Odoo as an executable named `odoo` (this interpreter runs it)."""
    script = directory / "odoo"
    source = (Path(__file__).parents[1] / "support" / "odoo_standin.py").read_text()
    script.write_text(f"#!{sys.executable}\n{source}")
    script.chmod(0o755)
    return script


def reachable_for_others(paths: list[Path], scratch: Path) -> str:
    """Shell for the stack's mount namespace making paths reachable by any user.

    The interpreter may live under a directory only root may enter (pyenv under /root): inside
    the namespace that directory is covered by a world-enterable one holding bind mounts of just
    the entries needed. Nothing changes outside the namespace.
    """
    covers: dict[Path, set[str]] = {}
    for path in paths:
        path = path.resolve()
        for parent in reversed(path.parents):
            if parent != path and not parent.stat().st_mode & 0o001:
                covers.setdefault(parent, set()).add(path.relative_to(parent).parts[0])
                break
    lines = []
    for i, (closed, entries) in enumerate(sorted(covers.items())):
        cover = scratch / f"cover{i}"
        cover.mkdir(mode=0o755)
        cover.chmod(0o755)
        for entry in sorted(entries):
            (cover / entry).mkdir()
            lines.append(f"mount --bind '{closed / entry}' '{cover / entry}'")
        lines.append(f"mount --rbind '{cover}' '{closed}'")
    return "\n".join(lines)


def process_cmdlines() -> list[str]:
    out = []
    for proc in psutil.process_iter(["cmdline"]):
        out.append(" ".join(proc.info["cmdline"] or []))
    return out


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


__all__ = [
    "Stack",
    "environ_of",
    "os",
    "process_cmdlines",
    "reachable_for_others",
    "standin_bin",
]
