"""The adapter between Odoo 19's HTTP layer and odoo_saas_tools.sessions.store.

Odoo calls `root.session_store` for every request; this class answers with odoo.http.Session
objects and leaves everything Redis-specific (keys, JSON, TTL, SCAN) to the plain module. When
Redis cannot be used, requests fail with 503 and one log line: silently falling back to files
would log users out at random as the load balancer switches replicas.
"""

from __future__ import annotations

import configparser
import importlib.util
import logging
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from odoo import http
from odoo.service import security
from odoo.tools import config
from odoo.tools._vendor.sessions import SessionStore
from werkzeug.exceptions import ServiceUnavailable

_logger = logging.getLogger(__name__)

SECTION = "session_redis"
LIFETIME_CACHE_SECONDS = 300  # a changed sessions.max_inactivity_seconds applies within this
# What the visitor reads; the server log has the details (host names stay private).
UNAVAILABLE = "HTTP sessions are unavailable: the Redis session store {}. See the server log."


def _load_session_store() -> ModuleType:
    """odoo_saas_tools.sessions.store: imported when installed, else from beside this addon.

    The addon ships inside the odoo_saas_tools package (odoo_addons/<this>), so the module is
    always at sessions/store.py two directories up, even when Odoo runs in another Python.
    """
    try:
        from odoo_saas_tools.sessions import store as session_store
    except ModuleNotFoundError as exc:
        if exc.name != "odoo_saas_tools":
            raise
    else:
        return session_store
    name = "odoo_saas_session_store"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parents[2] / "sessions" / "store.py"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def read_section() -> dict[str, str]:
    """The [session_redis] section of the configuration file Odoo was started with.

    Odoo 19 only parses [options]; other sections are read here from the same file.
    """
    misc = getattr(config, "misc", None)
    if isinstance(misc, dict) and misc.get(SECTION):
        return dict(misc[SECTION])
    rcfile = config.get("config")
    parser = configparser.RawConfigParser()
    if rcfile:
        parser.read([rcfile])
    return dict(parser.items(SECTION)) if parser.has_section(SECTION) else {}


class UnavailableSessionStore(SessionStore):
    """Stands in when the Redis store cannot even be built: every request fails loudly."""

    def __init__(self, reason: str) -> None:
        super().__init__(session_class=http.Session)
        self.reason = reason

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        _logger.error("%s", self.reason)
        raise ServiceUnavailable(UNAVAILABLE.format("is not configured correctly"))

    is_valid_key = generate_key = new = get = save = save_if_modified = delete = _fail
    rotate = vacuum = delete_old_sessions = _fail
    get_missing_session_identifiers = delete_from_identifiers = _fail


class RedisSessionStore(SessionStore):
    """Odoo 19's session store interface (see FilesystemSessionStore) backed by Redis."""

    def __init__(self, sessions: Any, module: ModuleType) -> None:
        super().__init__(session_class=http.Session)
        self.sessions = sessions
        self.lib = module
        self._lifetimes: dict[str | None, tuple[int, float]] = {}

    # --- plumbing ------------------------------------------------------------------------
    def _call(self, func: Any, *args: Any) -> Any:
        try:
            return func(*args)
        except self.lib.StoreError as exc:
            _logger.error("%s", exc)
            raise ServiceUnavailable(UNAVAILABLE.format("cannot be used")) from exc

    def _remember_lifetime(self, env: Any) -> int:
        """sessions.max_inactivity_seconds of env's database (Odoo's own rule), cached."""
        try:
            lifetime = int(http.get_session_max_inactivity(env))
        except Exception:  # a broken transaction must not break the save
            _logger.debug("could not read sessions.max_inactivity_seconds", exc_info=True)
            return http.SESSION_LIFETIME
        if lifetime <= 0:
            lifetime = http.SESSION_LIFETIME
        self._lifetimes[env.cr.dbname] = (lifetime, time.monotonic() + LIFETIME_CACHE_SECONDS)
        return lifetime

    def lifetime(self, db: str | None, env: Any = None) -> int:
        """TTL for a session of database db: from env or the request's env, else last known."""
        if env is None:
            req = http.request
            env = req.env if req else None
        if db and env is not None and getattr(env.cr, "dbname", None) == db:
            return self._remember_lifetime(env)
        cached = self._lifetimes.get(db)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        return http.SESSION_LIFETIME

    # --- the interface -------------------------------------------------------------------
    def is_valid_key(self, key: str) -> bool:
        return self.lib.is_valid_key(key)

    def generate_key(self, salt: Any = None) -> str:
        return self.lib.generate_key()

    def new(self) -> http.Session:
        return self.session_class({}, self.generate_key(), True)

    def get(self, sid: str) -> http.Session:
        if not self.is_valid_key(sid):
            return self.new()
        data = self._call(self.sessions.load, sid)
        if data is None:
            return self.new()
        return self.session_class(data, sid, False)

    def save(self, session: http.Session, env: Any = None) -> None:
        self._call(self.sessions.store, session.sid, dict(session), self.lifetime(session.db, env))

    def save_if_modified(self, session: http.Session) -> None:
        if session.is_dirty:
            self.save(session)

    def delete(self, session: http.Session) -> None:
        if self.is_valid_key(session.sid):
            self._call(self.sessions.remove, session.sid)

    def rotate(self, session: http.Session, env: Any, soft: bool = False) -> None:
        """Odoo 19's rotation: soft keeps the first 42 characters, hard changes everything."""
        if soft:
            lifetime = self.lifetime(session.db, env)
            next_sid, already = self._call(
                self.sessions.begin_soft_rotation, session.sid, dict(session), lifetime
            )
            session.sid = next_sid
            if already:  # a concurrent request rotated first; only the cookie changes
                return
            session["gc_previous_sessions"] = True
        else:
            self.delete(session)
            session.sid = self.generate_key()
        if session.uid:
            assert env, "saving this session requires an environment"
            session.session_token = security.compute_session_token(session, env)
        session.should_rotate = False
        session["create_time"] = time.time()
        self.save(session, env)

    def delete_old_sessions(self, session: http.Session) -> None:
        """The pre-rotation key expires by itself (Redis EXPIRE); only the flag is cleared."""
        if "gc_previous_sessions" in session and (
            session["create_time"] + http.SESSION_DELETION_TIMER < time.time()
        ):
            del session["gc_previous_sessions"]
            self.save(session)

    def vacuum(self, max_lifetime: int = http.SESSION_LIFETIME, *args: Any, **kw: Any) -> None:
        """Nothing to sweep: every key carries its TTL."""

    def get_missing_session_identifiers(self, identifiers: Any) -> set[str]:
        return self._call(self.sessions.missing_identifiers, identifiers)

    def delete_from_identifiers(self, identifiers: list[str]) -> None:
        self._call(self.sessions.remove_identifiers, identifiers)


def build() -> SessionStore:
    """The store for this process, or a store that fails every request saying why."""
    section = read_section()
    url = section.get("url", "").strip()
    if not url:
        return UnavailableSessionStore(
            f"odoo_saas_session_redis is loaded but [{SECTION}] url is missing in "
            f"{config.get('config')}; HTTP sessions are refused"
        )
    try:
        lib = _load_session_store()
    except ImportError as exc:
        return UnavailableSessionStore(
            f"odoo_saas_session_redis cannot start: {exc} (Odoo's Python needs the `redis` "
            "package); HTTP sessions are refused"
        )
    prefix = section.get("prefix", lib.DEFAULT_PREFIX)
    try:
        sessions = lib.RedisSessions.from_url(url, prefix)
    except lib.StoreError as exc:
        return UnavailableSessionStore(str(exc))
    if config.get("http_enable", True):  # batch jobs (--no-http) must not wait on Redis
        try:
            sessions.ping()
        except lib.StoreError as exc:
            _logger.error("%s; requests fail until it answers", exc)
    _logger.info("HTTP sessions stored in Redis %s under prefix %r", sessions.where, prefix)
    return RedisSessionStore(sessions, lib)


def install() -> None:
    """Replace Odoo's cached FilesystemSessionStore on the WSGI application."""
    store = build()
    http.root.__dict__.pop("session_store", None)
    http.root.session_store = store
