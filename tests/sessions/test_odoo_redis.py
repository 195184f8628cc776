"""Real Odoo 19 with the odoo_saas_session_redis addon: two replicas sharing one Redis.

Both servers run from the odoo.conf our renderer writes (ODOO_ENABLE_REDIS=true), with the clean
environment the stack gives Odoo. One database is initialised for the module and both servers
are started once; the last test stops Redis to see requests fail loudly.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo import runner as odoo_runner
from odoo_saas_tools.odoo.environment import odoo_environment
from odoo_saas_tools.runtime import render
from odoo_saas_tools.sessions.store import DELETION_TIMER, RedisSessions, is_valid_key
from tests.conftest import ADMIN_PASSWD
from tests.support import processes
from tests.support.cli import base_env
from tests.support.net import free_port, wait_port
from tests.support.pg import PgCluster
from tests.support.redis import RedisServer

pytestmark = pytest.mark.odoo

MAX_INACTIVITY = 5400  # the database's sessions.max_inactivity_seconds: the keys' TTL


@dataclass
class OdooServer:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def call(
        self, path: str, params: dict[str, Any] | None = None, sid: str | None = None
    ) -> tuple[int, dict[str, Any], str | None]:
        """JSON-RPC POST; returns (status, body, session_id cookie set by the answer)."""
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params or {}}).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        if sid:
            req.add_header("Cookie", f"session_id={sid}")
        return self._send(req)

    def get(self, path: str, sid: str | None = None) -> tuple[int, dict[str, Any], str | None]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if sid:
            req.add_header("Cookie", f"session_id={sid}")
        return self._send(req)

    @staticmethod
    def _send(req: urllib.request.Request) -> tuple[int, dict[str, Any], str | None]:
        opener = urllib.request.build_opener(NoRedirect)
        try:
            resp = opener.open(req, timeout=60)
        except urllib.error.HTTPError as exc:
            resp = exc
        raw = resp.read()
        cookie = SimpleCookie()
        for header in resp.headers.get_all("Set-Cookie") or []:
            cookie.load(header)
        sid = cookie["session_id"].value if "session_id" in cookie else None
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {"raw": raw.decode(errors="replace")}
        return resp.status, data, sid


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Stack:
    settings: Settings
    db: str
    a: OdooServer
    b: OdooServer
    redis: RedisServer
    store: RedisSessions
    odoo_bin: str
    tmp: Path

    def login(self, server: OdooServer) -> str:
        status, data, sid = server.call(
            "/web/session/authenticate", {"db": self.db, "login": "admin", "password": "admin"}
        )
        assert status == 200 and "result" in data, data
        assert data["result"]["uid"] == 2
        assert sid and is_valid_key(sid)
        return sid

    def uid(self, server: OdooServer, sid: str) -> tuple[Any, str | None]:
        status, data, new_sid = server.call("/web/session/get_session_info", sid=sid)
        assert status == 200, (status, data)
        return (data.get("result") or {}).get("uid"), new_sid

    def session_files(self) -> list[Path]:
        root = self.settings.sessions_dir
        return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _start(
    settings: Settings, odoo_bin: str, name: str, tmp: Path, env: dict[str, str] | None = None
) -> OdooServer:
    port = free_port()
    log = tmp / f"{name}.log"
    argv = [
        odoo_bin,
        "server",
        "-c",
        str(settings.odoo_conf),
        "--http-port",
        str(port),
        "--http-interface",
        "127.0.0.1",
        "--gevent-port",
        str(free_port()),
        "--max-cron-threads",
        "0",
        "--pidfile=",
        "--logfile",
        str(log),
    ]
    proc = subprocess.Popen(
        argv,
        env=env or odoo_environment(settings),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    return OdooServer(port, proc, log)


@pytest.fixture(scope="module")
def stack(
    odoo_bin: str, pg: PgCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("sessions-odoo")
    for name in ("data", "run", "addons", "deps"):
        (tmp / name).mkdir()
    # Odoo's Python gets `redis` through ODOO_DEPS_DIR, as auto-installed dependencies would.
    (tmp / "deps" / "redis").symlink_to(Path(redis_lib.__file__).parent)
    own_redis = RedisServer()  # this module's own: the last test stops it
    prefix = f"odoo-{uuid.uuid4().hex[:6]}:session:"
    # the shared cluster holds other areas' databases: name ours so Odoo never has to guess
    db = f"sessions_{uuid.uuid4().hex[:8]}"
    settings = Settings.from_env(
        base_env(
            {
                **pg.env(),
                "ODOO_ADMIN_PASSWD": ADMIN_PASSWD,
                "ODOO_DATA_DIR": str(tmp / "data"),
                "ODOO_SAAS_RUNTIME_DIR": str(tmp / "run"),
                "ODOO_EXTRA_ADDONS": str(tmp / "addons"),
                "ODOO_DEPS_DIR": str(tmp / "deps"),
                "ODOO_BIN": odoo_bin,
                "ODOO_WORKERS": "0",
                "ODOO_LOG_LEVEL": "info",
                "ODOO_ENABLE_REDIS": "true",
                "ODOO_REDIS_URL": own_redis.url,
                "ODOO_REDIS_PREFIX": prefix,
                "ODOO_DB_NAME": db,
            }
        )
    )
    render.render_all(settings)
    servers: list[OdooServer] = []
    try:
        odoo_runner.server_job(settings, db, ["-i", "base"], timeout=600)
        with pg.admin(db) as conn, conn.cursor() as cr:
            cr.execute(
                "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s)",
                ("sessions.max_inactivity_seconds", str(MAX_INACTIVITY)),
            )
        servers = [_start(settings, odoo_bin, name, tmp) for name in ("a", "b")]
        for server in servers:
            wait_port(server.port, 120)
        store = RedisSessions.from_url(own_redis.url, prefix)
        yield Stack(settings, db, servers[0], servers[1], own_redis, store, odoo_bin, tmp)
    finally:
        for server in servers:
            server.proc.terminate()
        for server in servers:
            stop(server)
        with pg.admin() as conn, conn.cursor() as cr:
            cr.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        if own_redis.proc.poll() is None:
            own_redis.stop()


def test_addon_replaces_the_file_store(stack: Stack) -> None:
    for server in (stack.a, stack.b):
        text = server.log_text()
        assert "HTTP sessions stored in Redis redis://:***@127.0.0.1" in text, text[-3000:]
        assert "Failed to load server-wide module" not in text
        assert stack.redis.url not in text  # the password never reaches the log


def test_login_on_one_replica_works_on_the_other(stack: Stack) -> None:
    sid = stack.login(stack.a)
    stored = stack.store.load(sid)
    assert stored is not None and stored["uid"] == 2 and stored["db"] == stack.db
    # TTL is the database's sessions.max_inactivity_seconds, not Odoo's default week.
    assert MAX_INACTIVITY - 60 < stack.store.ttl(sid) <= MAX_INACTIVITY
    uid, _ = stack.uid(stack.b, sid)
    assert uid == 2
    uid, _ = stack.uid(stack.a, sid)
    assert uid == 2
    assert stack.session_files() == []  # nothing fell back to <data_dir>/sessions


def test_logout_removes_the_key(stack: Stack) -> None:
    sid = stack.login(stack.b)
    status, _, new_sid = stack.a.get("/web/session/logout", sid=sid)
    assert status == 303
    assert stack.store.load(sid) is None  # hard rotation deleted the logged-in session
    assert new_sid and new_sid[:42] != sid[:42]
    anonymous = stack.store.load(new_sid)
    assert anonymous is not None and anonymous.get("uid") is None
    uid, _ = stack.uid(stack.b, sid)
    assert uid is None  # the old cookie no longer logs anyone in, on either replica
    assert stack.session_files() == []


def test_soft_rotation_keeps_the_user_logged_in(stack: Stack) -> None:
    sid = stack.login(stack.a)
    data = stack.store.load(sid)
    data["create_time"] = time.time() - 4 * 3600  # older than Odoo's 3 h rotation interval
    stack.store.store(sid, data, MAX_INACTIVITY)
    uid, new_sid = stack.uid(stack.b, sid)
    assert uid == 2
    assert new_sid and new_sid != sid and new_sid[:42] == sid[:42]
    old = stack.store.load(sid)
    assert old["next_sid"] == new_sid
    assert 0 < stack.store.ttl(sid) <= DELETION_TIMER  # Redis drops the old key by itself
    assert MAX_INACTIVITY - 60 < stack.store.ttl(new_sid) <= MAX_INACTIVITY
    uid, _ = stack.uid(stack.a, new_sid)
    assert uid == 2
    # A request still carrying the old cookie is moved to the same successor.
    uid, followed = stack.uid(stack.a, sid)
    assert uid == 2 and followed == new_sid
    # Revoking the device (by its 42-character identifier) ends both.
    assert stack.store.missing_identifiers([sid[:42]]) == set()
    assert stack.store.remove_identifiers([sid[:42]]) == 2
    uid, _ = stack.uid(stack.b, new_sid)
    assert uid is None


def stop(server: OdooServer) -> None:
    processes.stop(server.proc, 30)


def test_without_the_redis_package_sessions_are_refused(stack: Stack) -> None:
    """Odoo's Python lacking `redis` must not quietly go back to session files."""
    env = odoo_environment(stack.settings)
    # Odoo's Python without `redis`, whether or not this machine's has it: a package that
    # cannot be imported shadows any installed one
    hide = stack.tmp / "no-redis-path" / "redis"
    hide.mkdir(parents=True, exist_ok=True)
    (hide / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'redis'\", name='redis')\n"
    )
    env["PYTHONPATH"] = str(hide.parent)
    server = _start(stack.settings, stack.odoo_bin, "no-redis", stack.tmp, env)
    try:
        wait_port(server.port, 120)
        status, data, _ = server.call("/web/session/get_session_info")
        assert status == 503, (status, data)
        assert "the Redis session store is not configured correctly" in json.dumps(data)
        assert "needs the `redis` package" in server.log_text()
        assert stack.session_files() == []
    finally:
        stop(server)


def test_redis_down_fails_requests_loudly(stack: Stack) -> None:
    sid = stack.login(stack.a)
    stack.redis.stop()
    status, data, _ = stack.b.call("/web/session/get_session_info", sid=sid)
    assert status == 503, (status, data)
    assert "the Redis session store cannot be used" in json.dumps(data)
    assert "127.0.0.1" not in json.dumps(data)  # details go to the log, not to visitors
    text = stack.b.log_text()
    assert "Redis session store redis://:***@127.0.0.1" in text and "unreachable" in text
    assert stack.session_files() == []  # no silent fall-back to files
    status, data, _ = stack.b.get("/web/health")  # no cookie: Docker's probe still answers
    assert status == 200 and data == {"status": "pass"}
    # Redis comes back on the same address: the same processes serve logins again.
    revived = RedisServer(port=stack.redis.port)
    try:
        sid = stack.login(stack.b)
        uid, _ = stack.uid(stack.a, sid)
        assert uid == 2
    finally:
        revived.stop()
