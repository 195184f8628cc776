"""Logging set-up: quiet by default (cron, pipes), the program's name on every line."""

from __future__ import annotations

import logging
import sys


def setup_logging(verbose: int = 0, quiet: bool = False, program: str | None = None) -> None:
    """Commands log warnings only; long-running programs (program set) log at info."""
    if quiet:
        level = logging.ERROR
    elif verbose >= 2:
        level = logging.DEBUG
    elif verbose == 1 or program:
        level = logging.INFO
    else:
        level = logging.WARNING
    prefix = f"[{program}] " if program else "odoo-saas: "
    if program:
        fmt = "%(asctime)s " + prefix + "%(levelname)s %(message)s"
    else:
        fmt = prefix + "%(message)s"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt, datefmt="%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Third-party chatter (boto, urllib3) stays out unless debugging.
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose >= 3 else logging.WARNING)
    # Uvicorn warns about every malformed request: anyone who can connect could fill the log.
    logging.getLogger("uvicorn").setLevel(logging.DEBUG if verbose >= 3 else logging.ERROR)
