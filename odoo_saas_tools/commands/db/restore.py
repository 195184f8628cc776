"""`db restore NAME FILE`: restore a backup as tenant NAME, losing nothing if it fails.

FILE is our zip or dump, Odoo's own zip or dump, a .sql.gz or a .sql (detected from the
content), an s3:// URL of an off-site copy (downloaded and checked first), or a restic snapshot:
restic:TENANT (its latest), restic:TENANT@<snapshot id>, restic:TENANT@2026-11-20T06:00 (the
newest at or before that time, BACKUP_TZ unless a zone is given). An existing NAME
is refused unless --force; with --force the current tenant stays until the new one is fully
loaded, then they are swapped. Any SQL error fails the restore (Odoo's own restore ignores
them). The database identity (uuid, secret) is kept, as disaster recovery needs; --copy gives
a new one (like Odoo's "This database is a copy"), --neutralize disables mail servers, crons,
payment providers ... (for a staging copy).

A replaced tenant gets a last backup in $BACKUP_DIR/replaced first (--no-backup skips it).
A backup whose manifest names another database is refused for replacing NAME unless
--from-other-tenant; a backup of another Odoo series is refused unless --any-version. SIGTERM or
Ctrl-C unwind cleanly (the scratch database is dropped, a swap in progress undone); what a
SIGKILL leaves is put right by `odoo-saas db sweep` and at the next start.

Exit codes: 0 restored, 1 failed (nothing changed), 2 bad arguments or refused backup,
4 the tenant is busy, 130 interrupted (nothing changed).
"""

from __future__ import annotations

import argparse

from odoo_saas_tools.backups.restore import RestoreOptions, restore_backup
from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "restore",
        "restore a backup file (s3:// URL, restic snapshot) as a tenant",
        __doc__,
        func=run,
    )
    p.add_argument("name", metavar="NAME", help="the tenant database to create or replace")
    p.add_argument(
        "source", metavar="FILE", help="backup file, s3://bucket/key or restic:TENANT[@ID|@TIME]"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing tenant (after a last backup of it in $BACKUP_DIR/replaced)",
    )
    p.add_argument(
        "--no-backup",
        dest="last_backup",
        action="store_false",
        help="with --force: do not keep a last backup of the tenant being replaced",
    )
    p.add_argument(
        "--from-other-tenant",
        action="store_true",
        help="with --force: replace NAME with a backup whose manifest names another database",
    )
    p.add_argument(
        "--any-version",
        action="store_true",
        help="restore a backup of another Odoo series than 19.0 (it will not be served)",
    )
    p.add_argument("--copy", action="store_true", help="give the restored database a new identity")
    p.add_argument("--neutralize", action="store_true", help="neutralize the restored database")
    p.add_argument(
        "-j",
        "--jobs",
        type=int,
        metavar="N",
        help="connections loading the database: pg_restore jobs for a dump, per-table jobs for "
        "a plain dump (default: CPUs; 1 loads in one stream)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.jobs is not None and args.jobs < 1:
        from odoo_saas_tools.core.errors import ConfigError

        raise ConfigError("--jobs must be at least 1")
    options = RestoreOptions(
        force=args.force,
        copy=args.copy,
        neutralize=args.neutralize,
        jobs=args.jobs,
        progress=not (args.json or args.quiet),
        from_other_tenant=args.from_other_tenant,
        any_version=args.any_version,
        last_backup=args.last_backup,
    )
    result = restore_backup(settings, args.name, args.source, options)
    if args.json:
        print_json(result.as_dict())
        return 0
    if not args.quiet:
        note = (
            f" (replaced the previous one; its last backup: {result.replaced_backup})"
            if result.replaced_backup
            else " (replaced the previous one)"
            if result.replaced
            else ""
        )
        print(
            f"restored {result.database} from {result.source}{note}: "
            f"{result.attachments} attachment files, {result.duration_seconds:.1f} s"
        )
        if result.missing_attachments:
            print(f"warning: {result.missing_attachments} referenced attachment files are missing")
    return 0
