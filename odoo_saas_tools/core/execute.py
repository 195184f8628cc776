"""The one place external commands are run: logged without secrets, exit codes checked."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from odoo_saas_tools.core.errors import REDACTED, CommandError

log = logging.getLogger(__name__)

# For the callers' stdin/stdout and their type hints: nothing outside core imports subprocess.
PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
Completed = subprocess.CompletedProcess
Process = subprocess.Popen  # what popen returns


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


def popen(
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    clean_env: bool = False,
    secrets: Iterable[str] = (),
    **kwargs: Any,
) -> subprocess.Popen[bytes]:
    """Start argv for streaming (pipes between tools); the caller must call ``wait_checked``."""
    args = [str(a) for a in argv]
    log.debug("starting %s", redact(args, secrets))
    try:
        return subprocess.Popen(args, env=_merged_env(env, clean_env), **kwargs)
    except FileNotFoundError as exc:
        raise CommandError(f"{args[0]}: command not found") from exc


def wait_checked(
    proc: subprocess.Popen[bytes], secrets: Iterable[str] = (), timeout: float | None = None
) -> None:
    """Wait for a popen'ed process and raise CommandError if it failed."""
    stderr = proc.stderr.read() if proc.stderr else None
    returncode = proc.wait(timeout=timeout)
    if returncode != 0:
        raise CommandError(describe_failure(proc.args, returncode, stderr, secrets))  # type: ignore[arg-type]
