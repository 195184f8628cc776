"""`backup run`: back up every tenant now, copy off-site, prune; one summary line.

Exit codes: 0 every tenant backed up (and verified off-site when AWS_S3_BUCKET is set),
1 at least one failed or was busy, 4 another backup run is in progress, 130 stopped by a signal.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
from typing import Any

from odoo_saas_tools.backups.names import EXTENSIONS
from odoo_saas_tools.backups.run import run_all
from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.core.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, ConfigError
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres.connection import tenant_databases

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "run",
        "back up every tenant now (what the scheduler runs)",
        __doc__,
        func=run,
        log_as=lambda args: "backup-scheduler" if args.scheduled else None,
    )
    p.add_argument("databases", nargs="*", metavar="DB", help="only these tenants")
    p.add_argument("--format", choices=EXTENSIONS, help="default: BACKUP_FORMAT")
    p.add_argument("--concurrency", type=int, help="default: BACKUP_CONCURRENCY")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument(
        "--scheduled",
        action="store_true",
        help=argparse.SUPPRESS,  # the backup-scheduler's runs: its log prefix, no progress
    )


def terminate_children() -> None:
    """Stop everything this run started (pg_dump, zip ...), not our caller's processes."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child.terminate()


def install_stop_handlers(stop: threading.Event) -> None:
    def handler(signum: int, _frame: Any) -> None:
        if not stop.is_set():
            log.warning("%s received: stopping the backup run", signal.Signals(signum).name)
        stop.set()
        terminate_children()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.concurrency is not None and args.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    databases = None
    if args.databases:
        tenants = set(tenant_databases(settings))
        unknown = [db for db in args.databases if db not in tenants]
        if unknown:
            raise ConfigError(f"not a tenant database of this stack: {', '.join(unknown)}")
        databases = list(dict.fromkeys(args.databases))
    stop = threading.Event()
    install_stop_handlers(stop)
    summary = run_all(
        settings,
        databases=databases,
        fmt=args.format,
        concurrency=args.concurrency,
        stop=stop,
        progress=not (args.json or args.quiet or args.scheduled),
    )
    if args.json:
        print_json(summary.as_dict())
    else:
        print(summary.line(), flush=True)
    if summary.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if summary.ok else EXIT_FAILURE
