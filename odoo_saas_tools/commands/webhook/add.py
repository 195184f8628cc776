"""`odoo-saas webhook add URL --events a,b [--secret-file FILE] [--json]`.

Every later event of those types is POSTed to URL, signed as the Standard Webhooks spec says
with the secret: the one in FILE (`-`: standard input) in its `whsec_<base64>` form, or a
generated one, printed once. Events: tenant.created, tenant.deleted, tenant.suspended,
tenant.resumed, tenant.plan_changed, backup.succeeded, backup.failed, quota.exceeded,
trial.ended, job.failed.
Exit codes: 0 subscribed, 2 bad URL, event or secret.
"""

from __future__ import annotations

import argparse
import sys

from odoo_saas_tools.commands._registry import add_command
from odoo_saas_tools.commands.webhook.list import webhook_dict
from odoo_saas_tools.control import webhooks
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.output import print_json
from odoo_saas_tools.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "add", "subscribe a URL to events", __doc__, func=run)
    p.add_argument("url", metavar="URL")
    p.add_argument("--events", required=True, help="comma-separated event types")
    p.add_argument(
        "--secret-file", metavar="FILE", help="the whsec_ secret (- reads standard input)"
    )
    p.add_argument("--json", action="store_true", help="print the webhook as JSON")


def read_secret(path: str | None) -> str | None:
    """The secret on the first line of path (- is standard input), never from argv."""
    if path is None:
        return None
    try:
        if path == "-":
            text = sys.stdin.readline()
        else:
            with open(path, encoding="utf-8") as fh:
                text = fh.readline()
    except OSError as exc:
        raise ConfigError(f"--secret-file {path}: {exc.strerror or exc}") from None
    return text.strip()


def run(args: argparse.Namespace, settings: Settings) -> int:
    events = [e.strip() for e in args.events.split(",") if e.strip()]
    hook, generated = webhooks.subscribe(settings, args.url, events, read_secret(args.secret_file))
    out = webhook_dict(hook, [])
    if generated:
        out["secret"] = generated
    if args.json:
        print_json(out)
        return 0
    print(f"webhook {hook.id}: {hook.url} ({', '.join(hook.events)})")
    if generated:
        print(f"secret, shown once: store it now\n{generated}")
    return 0
