"""The one place external commands are run: logged without secrets, exit codes checked."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Literal

from odoo_saas_tools.core.errors import REDACTED, CommandError

log = logging.getLogger(__name__)

# For the callers' stdin/stdout and their type hints: nothing outside core imports subprocess.
PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
Completed = subprocess.CompletedProcess


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """text with every secret replaced, even inside a larger word: the one redaction."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def redact(argv: Sequence[str], secrets: Iterable[str] = ()) -> str:
    """Render argv for a log line with every secret replaced, even inside a larger argument."""
    return redact_text(shlex.join(str(a) for a in argv), secrets)


def _merged_env(env: Mapping[str, str] | None, clean: bool) -> dict[str, str] | None:
    if env is None and not clean:
        return None
    base: dict[str, str] = {} if clean else dict(os.environ)
    if clean:
        # A clean child still needs to find programs and speak UTF-8.
        base["PATH"] = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        base["LANG"] = os.environ.get("LANG", "C.UTF-8")
    base.update(env or {})
    return base


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    clean_env: bool = False,
    secrets: Iterable[str] = (),
    input: bytes | None = None,
    stdin: IO[Any] | int | None = None,
    stdout: IO[Any] | int | None = None,
    capture: bool = False,
    cwd: str | Path | None = None,
    timeout: float | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run argv; raise CommandError naming the program and its last error line on failure.

    Secrets must travel in ``env`` (never argv); ``secrets`` lists values to blank out of logs
    and error messages in case a caller's output echoes them.
    """
    args = [str(a) for a in argv]
    secrets = [s for s in secrets if s]
    log.debug("running %s", redact(args, secrets))
    try:
        proc = subprocess.run(
            args,
            env=_merged_env(env, clean_env),
            input=input,
            stdin=stdin,
            stdout=subprocess.PIPE if capture else stdout,
            stderr=subprocess.PIPE,
            cwd=cwd,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise CommandError(f"{args[0]}: command not found") from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandError(f"{Path(args[0]).name} timed out after {timeout:g} s") from exc
    if check and proc.returncode != 0:
        raise CommandError(describe_failure(args, proc.returncode, proc.stderr, secrets))
    return proc


def describe_failure(
    args: Sequence[str], returncode: int, stderr: bytes | None, secrets: Iterable[str] = ()
) -> str:
    """One line: which program failed, how, and the last thing it said."""
    name = Path(args[0]).name
    last = ""
    if stderr:
        lines = [ln.strip() for ln in stderr.decode(errors="replace").splitlines() if ln.strip()]
        if lines:
            last = redact_text(lines[-1], secrets)
    how = f"was killed by signal {-returncode}" if returncode < 0 else f"exited {returncode}"
    return f"{name} {how}" + (f": {last}" if last else "")


class Process(subprocess.Popen[bytes]):
    """A started program. What it says on stderr goes to an unnamed file (`error_file`), never
    to a pipe: a chatty program cannot block on a full pipe while we feed or drain its other
    end. The one way a started program is waited for: ``wait_checked``, or ``kill``."""

    error_file: IO[bytes] | None = None

    def wait_for(self, timeout: float) -> int | None:
        """Its exit code, or None when it still runs after timeout seconds."""
        try:
            return self.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def error_output(self) -> bytes:
        """Everything it wrote to stderr so far (b"" when stderr was not kept)."""
        if self.error_file is None:
            return b""
        self.error_file.seek(0)
        return self.error_file.read()

    def close_error_file(self) -> None:
        if self.error_file is not None:
            self.error_file.close()


StderrTo = Literal["keep", "stdout", "inherit"]


def popen(
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    clean_env: bool = False,
    secrets: Iterable[str] = (),
    stdin: IO[Any] | int | None = None,
    stdout: IO[Any] | int | None = None,
    stderr: StderrTo = "keep",
    start_new_session: bool = False,
) -> Process:
    """Start argv for streaming (pipes between tools); end with ``wait_checked`` or ``kill``.

    stderr: "keep" (an unnamed file, read by ``wait_checked`` for the error line), "stdout"
    (merged into stdout) or "inherit" (ours: its log lines go where ours do).
    """
    args = [str(a) for a in argv]
    log.debug("starting %s", redact(args, secrets))
    error_file = None
    if stderr == "keep":
        import tempfile  # not at import: most commands start no program (start-up cost)

        error_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by wait_checked() or kill()
    target = {"keep": error_file, "stdout": subprocess.STDOUT, "inherit": None}[stderr]
    try:
        proc = Process(
            args,
            env=_merged_env(env, clean_env),
            stdin=stdin,
            stdout=stdout,
            stderr=target,
            start_new_session=start_new_session,
        )
    except BaseException as exc:
        if error_file is not None:
            error_file.close()
        if isinstance(exc, FileNotFoundError):
            raise CommandError(f"{args[0]}: command not found") from exc
        raise
    proc.error_file = error_file
    return proc


def wait_checked(
    proc: Process,
    secrets: Iterable[str] = (),
    *,
    error_lines: Callable[[bytes], bytes] | None = None,
) -> None:
    """Wait for a started program; CommandError with its last stderr line when it failed
    (error_lines: picks the lines that say what went wrong out of all it wrote)."""
    try:
        returncode = proc.wait()
        if returncode != 0:
            said = proc.error_output()
            if error_lines is not None:
                said = error_lines(said)
            raise CommandError(describe_failure(proc.args, returncode, said, secrets))  # type: ignore[arg-type]
    finally:
        proc.close_error_file()


def kill(proc: Process) -> None:
    """Stop a started program after a failure elsewhere (and reap it)."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    proc.close_error_file()
