"""Spare tenants: copies of a template made ahead of time, so that a signup renames one.

In a signup burst each provisioning waits for PostgreSQL to copy the template (~0.4 s of the
server's time here) and computes the pbkdf2 hash Odoo requires for the admin password (~0.3 s
of CPU): 20 at once on 2 cores take 8-9 s. With PROVISION_SPARES=N, `tenant spares --watch` keeps
N copies of the default template ready (filestore in place, a generated admin password already
hashed); provisioning claims one with ALTER DATABASE ... RENAME (a catalog update, atomic: two
signups never get the same spare) and only writes the new tenant's identity and setup. The
claim renames it to the hidden name the new tenant is finished under, with the journal that
lets a retry finish it if the claim is killed half-way (tenants.unfinished).

A spare belongs to one template (its name carries the template's key), so a spare of an older
code version or module set is never handed out; the filler drops those. Its generated password
is kept, until claimed, in a 0600 file of the runtime directory: a spare claimed from another
container (shared PostgreSQL) gets a new password hashed at claim time instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import psycopg2.errors

from odoo_saas_tools.core import passwords
from odoo_saas_tools.core.errors import BusyError, SaasError
from odoo_saas_tools.core.files import atomic_write_json
from odoo_saas_tools.core.reserved import RESERVED_PREFIX
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import copies, databases
from odoo_saas_tools.postgres.connection import connect, server_session
from odoo_saas_tools.postgres.locks import advisory_lock
from odoo_saas_tools.tenants import filestore, template_cache, unfinished
from odoo_saas_tools.tenants import setup as tenant_setup
from odoo_saas_tools.tenants.hidden import NEW_SPARE_PREFIX, SPARE_PREFIX

log = logging.getLogger(__name__)

FILL_LOCK = RESERVED_PREFIX + "spares"  # one filler at a time per PostgreSQL server
SECRETS_DIR = "spares"  # in the runtime directory
WATCH_SECONDS = 15.0  # how often the watcher counts the spares
RECHECK_SECONDS = 600.0  # how often it also checks they are of the current template


@dataclass
class Claimed:
    spare: str
    made: unfinished.Unfinished  # the new tenant, still hidden
    filestore: str  # "moved" or "none"
    password: str | None  # the generated password already hashed in the spare, if known here
    password_hash: str | None


def _key(template: str) -> str:
    return template.removeprefix(template_cache.PREFIX)


def _secret_path(settings: Settings, spare: str) -> Path:
    return settings.runtime_dir / SECRETS_DIR / spare


def ready(settings: Settings, template: str | None = None) -> list[str]:
    """Ready spares (of template, or of any template), oldest name order."""
    prefix = SPARE_PREFIX + (_key(template) + "_" if template else "")
    return list(databases.comments(settings, prefix))


def claim(
    settings: Settings,
    template: str,
    target: str,
    *,
    hidden: str,
    conn: psycopg2.extensions.connection | None = None,
) -> Claimed | None:
    """Claim a ready spare of template for target (None when there is none left): renamed to
    hidden with its journal in one transaction, then its files moved to target's filestore.

    The caller holds target's and hidden's locks, has checked that target is free, and
    publishes hidden as target once it has written its identity and setup. The rename is the
    claim, so concurrent claims of one spare leave all but one looking for the next. conn: the
    caller's connection to the postgres database (its lock's), if it has one.
    """
    made, spare = None, ""
    with server_session(settings, conn) as session, session.cursor() as cr:
        cr.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)",
            (f"{SPARE_PREFIX}{_key(template)}_",),
        )
        candidates = [row[0] for row in cr.fetchall()]
        random.shuffle(candidates)  # signups at once would all try the same one first
        for candidate in candidates:
            left = unfinished.Unfinished(hidden, target, template, candidate)
            try:
                databases.rename_with_comment(
                    settings, candidate, hidden, left.journal(), conn=session
                )
            except (psycopg2.errors.InvalidCatalogName, psycopg2.errors.ObjectInUse):
                continue  # claimed by another signup a moment ago, or being dropped
            except psycopg2.Error as exc:
                raise SaasError(f"claiming spare {candidate} failed: {exc.pgerror or exc}") from exc
            made, spare = left, candidate
            break
    if made is None:
        return None
    mode = "none"
    try:
        if filestore.rename(settings.filestore(spare), settings.filestore(target)):
            mode = "moved"
    except (OSError, SaasError) as exc:
        databases.drop_quietly(settings, hidden)  # the spare is lost, no tenant is
        raise SaasError(f"moving the filestore of spare {spare} failed: {exc}") from exc
    password, password_hash = take_secret(settings, spare)
    log.info("%s is spare %s", target, spare)
    return Claimed(spare, made, mode, password, password_hash)


def take_secret(settings: Settings, spare: str) -> tuple[str | None, str | None]:
    """The spare's generated password and its hash, once (None, None: not kept here)."""
    path = _secret_path(settings, spare)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None, None
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
    if not isinstance(data, dict) or not passwords.is_hashed(str(data.get("hash", ""))):
        return None, None
    return data.get("password"), data.get("hash")


def fill(settings: Settings, spec: template_cache.Spec, count: int) -> dict:
    """Make spares of spec's template until count are ready; drop those of other templates.

    BusyError when another filler is at work (on this or another container).
    """
    made: list[str] = []
    with (
        advisory_lock(settings, FILL_LOCK, busy="spares are being made elsewhere"),
        template_cache.checked_out(settings, spec) as tpl,
    ):
        dropped = _drop_others(settings, tpl.name)
        have = ready(settings, tpl.name)
        dropped += [extra for extra in have[count:] if _drop_spare(settings, extra)]
        while len(have) + len(made) < count:
            made.append(_make(settings, tpl.name))
    return {
        "template": tpl.name,
        "wanted": count,
        "ready": min(count, len(have) + len(made)),
        "made": made,
        "dropped": dropped,
    }


def _make(settings: Settings, template: str) -> str:
    """One spare: the template's copy, its filestore, an admin password hashed ahead of time."""
    suffix = secrets.token_hex(4)
    building = f"{NEW_SPARE_PREFIX}{_key(template)}_{suffix}"
    spare = f"{SPARE_PREFIX}{_key(template)}_{suffix}"
    busy = f"spare {spare} is being made elsewhere"
    with (
        advisory_lock(settings, building, busy=busy),
        advisory_lock(settings, spare, busy=busy),  # its filestore moves in before it
    ):
        try:
            copies.copy_by_template(settings, template, building)
            filestore.copy_tree(settings.filestore(template), settings.filestore(building))
            password = tenant_setup.generate_password()
            hashed = passwords.hash_password(password)
            with connect(settings, building, autocommit=False) as conn:
                with conn.cursor() as cr:
                    tenant_setup.set_admin_password(cr, hashed)
                conn.commit()
            secret = _secret_path(settings, spare)
            secret.parent.mkdir(mode=0o700, exist_ok=True)
            atomic_write_json(secret, {"password": password, "hash": hashed})
            filestore.rename(settings.filestore(building), settings.filestore(spare))
            databases.rename(settings, building, spare)
        except BaseException:
            databases.drop_quietly(settings, building)
            for name in (building, spare):
                with contextlib.suppress(OSError):
                    filestore.remove(settings.filestore(name))
            with contextlib.suppress(OSError):
                _secret_path(settings, spare).unlink()
            raise
    log.info("spare %s ready", spare)
    return spare


def discard(settings: Settings, template: str) -> list[str]:
    """Drop the ready spares of template (it was rebuilt: a module changed in place)."""
    return [spare for spare in ready(settings, template) if _drop_spare(settings, spare)]


def _drop_spare(settings: Settings, spare: str) -> bool:
    """Drop spare unless a signup claimed it meanwhile (its files are that tenant's now)."""
    if not databases.drop(settings, spare):
        return False
    filestore.remove(settings.filestore(spare))
    with contextlib.suppress(OSError):
        _secret_path(settings, spare).unlink()
    return True


def _drop_others(settings: Settings, template: str) -> list[str]:
    """Spares of templates other than template (older code, other modules), and secrets whose
    spare is gone (claimed from another container, dropped by hand)."""
    current = SPARE_PREFIX + _key(template) + "_"
    existing = ready(settings)
    dropped = [s for s in existing if not s.startswith(current) and _drop_spare(settings, s)]
    folder = settings.runtime_dir / SECRETS_DIR
    if folder.is_dir():
        for path in folder.iterdir():
            if path.name not in existing and not path.name.startswith("."):
                with contextlib.suppress(OSError):
                    path.unlink()
    return dropped


def watch(settings: Settings, spec: template_cache.Spec, count: int) -> None:
    """Keep count spares ready for good (the `spares` program). A failed fill (a module that
    does not install, a full disk) is logged and tried again after a growing pause, so a
    broken template is not rebuilt every few seconds."""
    with contextlib.suppress(OSError):
        os.nice(10)  # signups and Odoo come first
    checked = 0.0
    failures = 0
    while True:
        due = time.monotonic() - checked > RECHECK_SECONDS
        try:
            if due or len(ready(settings)) < count:
                result = fill(settings, spec, count)
                checked = time.monotonic()
                if result["made"] or result["dropped"]:
                    log.info(
                        "spares: %d ready (%d made, %d dropped)",
                        result["ready"],
                        len(result["made"]),
                        len(result["dropped"]),
                    )
            failures = 0
        except BusyError:
            pass  # another container fills them
        except (SaasError, psycopg2.Error, OSError) as exc:
            failures += 1
            log.error("spares: %s (next try in %.0f s)", exc, retry_pause(failures))
        time.sleep(retry_pause(failures))


def retry_pause(failures: int) -> float:
    """WATCH_SECONDS, doubled after each failure in a row, at most RECHECK_SECONDS."""
    return min(RECHECK_SECONDS, WATCH_SECONDS * 2 ** min(failures, 10))
