"""Template databases ready to copy: the click-odoo-initdb idea for instant tenants.

A template is an Odoo database with the wanted modules installed by Odoo itself
(`odoo server -i ... --stop-after-init`), kept as a PostgreSQL template nobody may connect to,
with its filestore beside it. Its name is `odoo_saas_tpl_<key>`, the key a hash of Odoo's
version, the full set of modules installed, the SHA-1 of their source, the language and demo
flag: any change of code gives a new key, so a stale template is never used. New tenants are
`CREATE DATABASE ... TEMPLATE` copies (0.6 s) instead of a 15-20 s install.

Concurrency: one advisory lock per template is held while it is built or copied (PostgreSQL
refuses two copies of one template at the same time anyway); pruning skips templates in use.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg2

from odoo_saas_tools.core.errors import BusyError, ConfigError, SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo import modules as odoo_addons
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.postgres.locks import advisory_lock
from odoo_saas_tools.tenants import filestore, hidden

log = logging.getLogger(__name__)

PREFIX = hidden.TEMPLATE_PREFIX
BUILDING_SUFFIX = "_new"
MODULE_CACHE = "odoo-module-facts.json"  # in the runtime directory, see odoo.modules
# Facts verified this recently by another call are taken as they are: verifying stats the
# installed modules' ~7,000 files (0.25 s of a 0.7 s signup). An addon edited in place within
# this minute is seen by a later provisioning; a running Odoo sees it only when restarted.
RECHECK_SECONDS = 60.0
TOUCH_SECONDS = 60  # a template's last use is recorded at most this often
LOCK_WAIT_SECONDS = 1800  # a build of many modules can take minutes; waiters wait for it


@dataclass(frozen=True)
class Spec:
    """What a new database should contain."""

    modules: tuple[str, ...] = ("base",)
    lang: str = "en_US"
    demo: bool = False

    def install_list(self) -> list[str]:
        return sorted(set(self.modules) | {"base"})


@dataclass
class Template:
    name: str
    meta: dict = field(default_factory=dict)
    built: bool = False  # built during this call (a cold cache)

    @property
    def created(self) -> datetime.datetime | None:
        return _parse_time(self.meta.get("created"))

    @property
    def used(self) -> datetime.datetime | None:
        return _parse_time(self.meta.get("used")) or self.created


def _parse_time(value: object) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def describe(settings: Settings, spec: Spec, *, recheck: float = RECHECK_SECONDS) -> dict:
    """The facts the cache key is made of (cheap: no Odoo start once the addons path is cached).

    Computing them stats every file of the installed modules (~0.3 s of CPU for base here). A
    signup burst computes them once: calls wait for one another, and facts another call
    verified less than `recheck` seconds ago are taken as they are.
    """
    install = odoo_addons.odoo_install(settings)
    request = json.dumps(
        [
            [str(p) for p in install.paths],
            install.version,
            spec.install_list(),
            spec.lang,
            spec.demo,
        ]
    )
    memo = settings.runtime_dir / MODULE_CACHE
    with odoo_addons.exclusive(memo):
        cache = odoo_addons.ModuleCache(memo)
        recent = cache.recently_described(request, recheck)
        if recent is not None:
            return recent
        closure = odoo_addons.install_closure(install.paths, spec.install_list(), cache)
        facts = {
            "odoo_version": install.version,
            "modules": spec.install_list(),
            "installed": sorted(closure),
            "source_sha1": odoo_addons.source_hash(closure, spec.lang, cache),
            "lang": spec.lang,
            "demo": spec.demo,
        }
        cache.described(request, facts)
        cache.save()
    return facts


def template_name(facts: dict) -> str:
    digest = hashlib.sha1(json.dumps(facts, sort_keys=True).encode(), usedforsecurity=False)
    return PREFIX + digest.hexdigest()[:24]


def templates(settings: Settings) -> list[Template]:
    """The cached templates (without half-built ones), newest use first."""
    out = []
    for name, meta in hidden.template_metas(settings).items():
        if name.endswith(BUILDING_SUFFIX):
            continue
        out.append(Template(name, meta.data))
    epoch = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    return sorted(out, key=lambda t: t.used or epoch, reverse=True)


@contextlib.contextmanager
def _lock(
    settings: Settings, name: str, *, wait: bool = True, shared: bool = False
) -> Iterator[None]:
    """The template's advisory lock; waits (for a build elsewhere) unless wait=False.

    Copies hold it shared (a signup burst copies one template side by side); a build, a
    rebuild or a removal holds it alone.
    """
    if wait:
        busy, seconds = f"template {name} is still being built elsewhere", LOCK_WAIT_SECONDS
    else:
        busy, seconds = f"template {name} is in use", None
    with advisory_lock(settings, name, busy=busy, wait_seconds=seconds, shared=shared):
        yield


def _expired(settings: Settings, tpl: Template) -> bool:
    created = tpl.created
    if created is None:
        return True
    return _now() - created > datetime.timedelta(days=settings.template_cache_max_age_days)


@contextlib.contextmanager
def checked_out(
    settings: Settings, spec: Spec, *, rebuild: bool = False, facts: dict | None = None
) -> Iterator[Template]:
    """A template for spec, built first if missing or too old; locked while the caller copies.

    Pruning of old templates happens after the caller is done. facts: describe(spec), when the
    caller has just made it. A rebuild verifies the module facts afresh: it is how an addon
    edited a moment ago gets into new tenants.
    """
    if rebuild or facts is None:
        facts = describe(settings, spec, recheck=0 if rebuild else RECHECK_SECONDS)
    name = template_name(facts)
    current = None
    listing: list[Template] | None = None  # what prune looks at, unless a build changed it
    if not rebuild:
        with _lock(settings, name, shared=True):
            listing = templates(settings)
            current = _usable(settings, name, listing)
            if current is not None:  # the common case: copy side by side with other copies
                _touch(settings, current)
                yield current
    if current is None:
        with _lock(settings, name):  # alone: build (once, however many wait for it), then copy
            listing = templates(settings)
            current = None if rebuild else _usable(settings, name, listing)
            if current is None:
                _drop(settings, name)
                current = _build(settings, name, spec, facts)
                listing = None
            yield current
    prune(settings, keep={name}, listing=listing)


def _usable(settings: Settings, name: str, listing: list[Template]) -> Template | None:
    """The cached template name, unless missing, too old or without its filestore here."""
    current = next((t for t in listing if t.name == name), None)
    if current is not None and (_expired(settings, current) or _lost_filestore(settings, current)):
        log.info("template %s is stale: rebuilding", name)
        return None
    return current


def _lost_filestore(settings: Settings, tpl: Template) -> bool:
    """Built with a filestore that this data dir lacks (another stack sharing the server, or a
    lost volume): copies would miss their attachments."""
    return bool(tpl.meta.get("filestore")) and not settings.filestore(tpl.name).is_dir()


def _build(settings: Settings, name: str, spec: Spec, facts: dict) -> Template:
    tmp = name + BUILDING_SUFFIX
    _drop(settings, tmp)  # a build that died half-way
    args = ["-i", ",".join(spec.install_list())]
    if spec.lang != "en_US":
        args += ["--load-language", spec.lang]
    if spec.demo:
        args.append("--with-demo")
    started = time.monotonic()
    log.info("building template %s (%s)", name, ", ".join(spec.install_list()))
    try:
        from odoo_saas_tools.odoo import runner as odoo_runner  # only for a build

        odoo_runner.server_job(settings, tmp, args)  # which makes the database first
        _check_installed(settings, tmp, spec)
        databases.rename(settings, tmp, name)
        filestore.rename(settings.filestore(tmp), settings.filestore(name))
        meta = {**facts, "created": _now().isoformat(), "used": _now().isoformat()}
        meta["build_seconds"] = round(time.monotonic() - started, 1)
        meta["filestore"] = settings.filestore(name).is_dir()
        databases.set_template(settings, name, hidden.TemplateMeta(meta).comment())
    except BaseException:
        _drop(settings, tmp)
        _drop(settings, name)
        raise
    log.info("template %s built in %.1f s", name, meta["build_seconds"])
    return Template(name, meta, built=True)


def _check_installed(settings: Settings, db: str, spec: Spec) -> None:
    """Odoo exits 0 even when a module failed to install: check the result."""
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT name FROM ir_module_module WHERE name = ANY(%s) AND state = 'installed'",
            (spec.install_list(),),
        )
        missing = set(spec.install_list()) - {row[0] for row in cr.fetchall()}
        if missing:
            raise SaasError(f"Odoo did not install {', '.join(sorted(missing))}: see Odoo's log")
        if spec.lang != "en_US":
            # Odoo invents a language for any unknown code (with a warning in its log): only the
            # languages base ships (records base.lang_*) are real ones
            cr.execute(
                "SELECT 1 FROM res_lang l JOIN ir_model_data d ON d.model = 'res.lang' "
                "AND d.res_id = l.id AND d.module = 'base' WHERE l.code = %s AND l.active",
                (spec.lang,),
            )
            if cr.fetchone() is None:
                raise ConfigError(
                    f"--lang {spec.lang!r} is not a language Odoo ships (e.g. fr_FR, de_DE, "
                    "pt_BR): nothing created"
                )


def _touch(settings: Settings, tpl: Template) -> None:
    """Record the last use (pruning keeps the templates used most recently); to the minute,
    so that a signup burst does not queue up writing the same catalog row."""
    used = tpl.used
    if used is not None and _now() - used < datetime.timedelta(seconds=TOUCH_SECONDS):
        return
    tpl.meta["used"] = _now().isoformat()
    with contextlib.suppress(SaasError, psycopg2.Error):
        databases.set_comment(settings, tpl.name, hidden.TemplateMeta(tpl.meta).comment())


def _drop(settings: Settings, name: str) -> None:
    databases.drop(settings, name)
    filestore.remove(settings.filestore(name))


def prune(
    settings: Settings,
    *,
    keep: set[str] = frozenset(),
    drop_all: bool = False,
    listing: list[Template] | None = None,
) -> list[str]:
    """Drop templates past TEMPLATE_CACHE_MAX_AGE_DAYS or beyond TEMPLATE_CACHE_MAX_COUNT.

    Templates in use (locked) are skipped; returns the names dropped.
    """
    dropped = []
    kept = 0
    for tpl in templates(settings) if listing is None else listing:
        if tpl.name in keep:
            kept += 1
            continue
        too_many = kept >= settings.template_cache_max_count
        if not (drop_all or too_many or _expired(settings, tpl)):
            kept += 1
            continue
        try:
            with _lock(settings, tpl.name, wait=False):
                _drop(settings, tpl.name)
            dropped.append(tpl.name)
            log.info("dropped cached template %s", tpl.name)
        except BusyError:
            kept += 1
    return dropped
