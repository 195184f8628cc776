"""A staging copy of a tenant that cannot reach the real world (what it does for the hoster:
`odoo-saas db clone --help`, commands/db/clone.py).

Neutralized by the installed modules' own data/neutralize.sql without starting Odoo, with a new
identity. The fast copy (CREATE DATABASE ... TEMPLATE) needs SRC to itself, so SRC's users are
held for a fraction of a second instead of disconnected (postgres.copies.
copy_by_template_live); when that cannot keep them unaware, pg_dump | psql copies SRC online.
The filestore is hard-linked (same filesystem) or copied. The copy is made under a hidden name
and takes DST's only when its identity and neutralization are committed (tenants.unfinished):
a clone killed half-way is never served with the production's secret and live mail servers.
"""

from __future__ import annotations

import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2.extensions

from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import copies, databases
from odoo_saas_tools.postgres.connection import base_version, connect, odoo_version
from odoo_saas_tools.tenants import filestore, identity, neutralize, unfinished
from odoo_saas_tools.tenants.locks import tenant_locks
from odoo_saas_tools.tenants.names import ensure_target_free

log = logging.getLogger(__name__)

# Above this size the copy would hold SRC's new connections too long (WAL_LOG copies about
# 150 MB/s here): such a source in use is copied online.
LIVE_TEMPLATE_MAX_BYTES = 192 * 2**20
# How long busy (in-transaction) pooled sessions of SRC may take to finish, and how long SRC's
# new connections may be held in all, before giving up: the users' requests stay under 2 s.
LIVE_TEMPLATE_WAIT = 0.5
LIVE_TEMPLATE_HOLD = 1.5


def clone_tenant(
    settings: Settings,
    src: str,
    dst: str,
    *,
    neutralized: bool = True,
    force_disconnect: bool = False,
) -> dict:
    """Clone src to dst under both locks (names already checked).

    Every check before the copy runs on the locks' session, and so does the copy of an idle
    src: a clone starts two PostgreSQL backends (three when Odoo serves src: the live copy runs
    on its own), not eleven. Whether src is Odoo's is checked on the copy, in the transaction
    that neutralizes it, unless its users are about to be disconnected: that is only ever done
    to an Odoo database.
    """
    if src == dst:
        raise SaasError("SRC and DST are the same database", 2)
    hidden = unfinished.new_name()
    with tenant_locks(settings, src, dst, hidden, operation="clone") as held:
        session = held.session
        if not databases.exists(settings, src, conn=session):
            raise SaasError(f"{src} does not exist")
        left = unfinished.of_tenant(settings, dst, conn=session)
        if left is not None and not databases.exists(settings, dst, conn=session):
            log.info("%s: discarding %s, left unfinished by a killed run", dst, left.hidden)
            unfinished.discard(settings, left)  # never handed out: made anew
        ensure_target_free(settings, dst, conn=session)
        if force_disconnect and not odoo_version(settings, src):
            raise SaasError(_not_odoo(src))
        return clone(
            settings,
            src,
            dst,
            hidden=hidden,
            session=session,
            neutralized=neutralized,
            force_disconnect=force_disconnect,
        )


def _not_odoo(src: str) -> str:
    return f"{src} is not an Odoo database"


def clone(
    settings: Settings,
    src: str,
    dst: str,
    *,
    hidden: str,
    session: psycopg2.extensions.connection,
    neutralized: bool = True,
    force_disconnect: bool = False,
) -> dict:
    """Copy src to dst, made as hidden (session: the caller's lock session, which holds the
    three locks); the copy is removed again on any failure."""
    started = time.monotonic()
    method = "template"
    created_db = False
    released = 0
    made = unfinished.Unfinished(hidden, dst, src, operation=unfinished.CLONE)
    # The filestore is hard-linked in a thread while PostgreSQL copies the database.
    pool = ThreadPoolExecutor(max_workers=1)
    fs_job = pool.submit(filestore.copy_tree, settings.filestore(src), settings.filestore(hidden))
    try:
        if force_disconnect:
            databases.terminate(settings, src)
        elif databases.other_connections(settings, src, conn=session):
            method = "online"
            row = databases.info(settings, src, conn=session)  # its size: only a copy in use
            if row is not None and row.size_bytes <= LIVE_TEMPLATE_MAX_BYTES:
                try:
                    released = copies.copy_by_template_live(
                        settings,
                        src,
                        hidden,
                        wait=LIVE_TEMPLATE_WAIT,
                        hold=LIVE_TEMPLATE_HOLD,
                        watcher=session,
                    )
                    method, created_db = "template", True
                except copies.SourceBusy as exc:
                    log.info("%s; falling back to the online copy", exc)
        if method == "template" and not created_db:
            try:
                copies.copy_by_template(settings, src, hidden, conn=session)
            except copies.SourceBusy:
                if not force_disconnect:
                    method = "online"  # someone connected in between
                else:
                    databases.terminate(settings, src)
                    copies.copy_by_template(settings, src, hidden, conn=session)
        if method == "online":
            log.info("%s has connected users: copying it online (pg_dump | psql)", src)
            copies.copy_online(settings, src, hidden)
        databases.set_comment(settings, hidden, made.journal(), conn=session)
        fs_mode = fs_job.result()
        values, modules = _make_staging(settings, src, made, neutralized)
        unfinished.publish(settings, made, conn=session)
    except BaseException:
        with contextlib.suppress(Exception):
            fs_job.result()  # waits for the copy of the files: removed with the rest
        with contextlib.suppress(Exception):
            unfinished.discard(settings, made)
        raise
    finally:
        pool.shutdown(wait=True)
    return {
        "source": src,
        "database": dst,
        "method": method,
        "released_sessions": released,
        "filestore": fs_mode,
        "neutralized": neutralized,
        "neutralized_modules": modules,
        "uuid": values["database.uuid"],
        "seconds": round(time.monotonic() - started, 2),
    }


def _make_staging(
    settings: Settings, src: str, made: unfinished.Unfinished, neutralized: bool
) -> tuple[dict[str, str], list[str]]:
    """On the copy, in one transaction: is it Odoo's, a new identity, the neutralization."""
    dst = made.tenant
    with connect(settings, made.hidden, autocommit=False) as conn:
        with conn.cursor() as cr:
            if not base_version(cr):
                raise SaasError(_not_odoo(src))
            if not identity.has_parameters(cr):
                raise SaasError(f"{_not_odoo(src)} (no ir_config_parameter table)")
            base_url = identity.default_base_url(settings, dst)
            values = identity.write(cr, clone=True, base_url=base_url)
            modules = neutralize.neutralize_on(cr, settings, dst) if neutralized else []
        conn.commit()
    return values, modules
