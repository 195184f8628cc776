"""Errors that end a command with one line for the user and a meaningful exit code."""

from __future__ import annotations

REDACTED = "***"  # what a secret is shown as in logs and reports

# Exit codes shared by every command, so scripts can branch on them.
EXIT_OK = 0
EXIT_FAILURE = 1  # the operation failed (or, for health: unhealthy)
EXIT_USAGE = 2  # bad arguments or bad configuration: nothing was attempted
EXIT_UNCHANGED = 3  # nothing to do: the target already is as asked (e.g. tenant exists)
EXIT_BUSY = 4  # another operation holds the tenant's lock
EXIT_INTERRUPTED = 130


def first_line(exc: BaseException, default: str | None = None) -> str:
    """The first line of an exception's text (drivers' messages run over several lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else default or type(exc).__name__


class SaasError(Exception):
    """A failure the user should read as one line; ``exit_code`` says what kind."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(SaasError):
    """Invalid settings or arguments: nothing has been started or changed."""

    exit_code = EXIT_USAGE


class CommandError(SaasError):
    """An external tool (pg_dump, psql, odoo ...) failed."""


class BusyError(SaasError):
    """Another operation on the same tenant is running."""

    exit_code = EXIT_BUSY
