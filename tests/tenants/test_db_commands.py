"""db clone/drop/list/rename on real PostgreSQL with fake Odoo databases (no Odoo needed)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from odoo_saas_tools.core.errors import BusyError, ConfigError, SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import copies, databases
from odoo_saas_tools.postgres.connection import connect, ident
from odoo_saas_tools.postgres.locks import is_locked
from odoo_saas_tools.tenants import filestore
from odoo_saas_tools.tenants import rename as rename_mod
from odoo_saas_tools.tenants.locks import tenant_lock, tenant_locks
from odoo_saas_tools.tenants.names import check_name
from tests.support.cli import run_cli
from tests.support.tenants import new_database
from tests.support.wait import wait_until
from tests.tenants.conftest import settle_write_counters

HOSTILE = [
    'bad"name',
    "x;DROP DATABASE postgres",
    "a" * 64,
    "é" * 32,  # 64 bytes
    "postgres",
    "template1",
    "odoo_saas_tpl_abc",
    "odoo_saas_x",
    "-leading-dash",
    "white space",
    "x",
]


def params(settings: Settings, db: str) -> dict[str, str]:
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute("SELECT key, value FROM ir_config_parameter")
        return dict(cr.fetchall())


def inodes(root) -> dict[str, int]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            path = os.path.join(dirpath, f)
            out[os.path.relpath(path, root)] = os.stat(path).st_ino
    return out


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_rejected(tsettings: Settings, name: str) -> None:
    with pytest.raises(ConfigError) as err:
        check_name(name, tsettings)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", ['bad"name', "x;DROP DATABASE postgres", "-leading-dash"])
def test_hostile_names_rejected_by_every_command(
    tenants_env: dict[str, str], tsettings: Settings, fake_odoo: Callable[..., str], name: str
) -> None:
    src = fake_odoo("hostile")
    before = databases.comments(tsettings, "")
    for args in (
        ("db", "create", "--", name),
        ("db", "clone", "--no-neutralize", "--", src, name),
        ("db", "rename", "--", src, name),
        ("db", "drop", "--no-backup", "--", name),
        ("tenant", "provision", "--", name),
    ):
        proc = run_cli(tenants_env, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("odoo-saas: error: "), proc.stderr
    assert databases.comments(tsettings, "") == before
    assert databases.exists(tsettings, src)


def test_provision_name_checked_with_prefix(tenants_env: dict[str, str]) -> None:
    proc = run_cli(tenants_env, "tenant", "provision", "a" * 60)  # odoo_ + 60 > 63 bytes
    assert proc.returncode == 2 and "63 bytes" in proc.stderr
    proc = run_cli(tenants_env, "tenant", "provision", "x';--")
    assert proc.returncode == 2 and "not valid" in proc.stderr


def test_clone_fast_path_new_identity_hard_links(
    tenants_env: dict[str, str],
    tsettings: Settings,
    fake_odoo: Callable[..., str],
    dbname: Callable[[str], str],
) -> None:
    src = fake_odoo("src", files=5)
    dst = dbname("dst")
    proc = run_cli(tenants_env, "db", "clone", src, dst, "--no-neutralize", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["method"] == "template" and result["filestore"] == "hardlink"
    assert result["neutralized"] is False

    old, new = params(tsettings, src), params(tsettings, dst)
    assert new["database.uuid"] != old["database.uuid"] == "old-uuid"
    assert new["database.uuid"] == result["uuid"]
    assert new["database.secret"] not in ("old-secret", old["database.secret"])
    assert new["database.create_date"] != "2020-01-01 00:00:00"
    for key in (
        "database.enterprise_code",
        "database.expiration_date",
        "database.expiration_reason",
        "database.already_linked_subscription_url",
        "database.already_linked_email",
    ):
        assert key in old and key not in new
    assert new["web.base.url"] != "https://prod.example.com"

    src_inodes = inodes(tsettings.filestore(src))
    assert len(src_inodes) == 5
    assert inodes(tsettings.filestore(dst)) == src_inodes  # same files, same inodes


def test_clone_with_connected_source_copies_online(
    tenants_env: dict[str, str],
    tsettings: Settings,
    fake_odoo: Callable[..., str],
    dbname: Callable[[str], str],
) -> None:
    src = fake_odoo("busy")
    dst = dbname("online")
    with connect(tsettings, src) as user_conn, user_conn.cursor() as cr:
        cr.execute("SELECT pg_backend_pid()")
        proc = run_cli(tenants_env, "db", "clone", src, dst, "--no-neutralize", "--json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["method"] == "online"
        cr.execute("SELECT count(*) FROM ir_attachment")  # the user's session survived
        assert cr.fetchone()[0] == 3
    assert params(tsettings, dst)["database.uuid"] != "old-uuid"
    with connect(tsettings, dst) as conn, conn.cursor() as cr:
        cr.execute("SELECT count(*) FROM ir_attachment")
        assert cr.fetchone()[0] == 3


def pooled_session(settings: Settings, db: str, *, in_transaction: bool = False):
    """A connection as Odoo's pool keeps it (application_name odoo-<pid>), idle or in a
    transaction."""
    conn = psycopg2.connect(**{**settings.connect_kwargs(db), "application_name": "odoo-4242"})
    with conn.cursor() as cr:
        cr.execute("SELECT count(*) FROM ir_attachment")
    if not in_transaction:
        conn.rollback()
    time.sleep(0.1)  # idle for a moment, as between two requests
    return conn


def test_clone_releases_idle_odoo_pool_sessions_and_copies_by_template(
    tenants_env: dict[str, str],
    tsettings: Settings,
    fake_odoo: Callable[..., str],
    dbname: Callable[[str], str],
) -> None:
    src = fake_odoo("pooled")
    dst = dbname("pooled_copy")
    pooled = pooled_session(tsettings, src)
    try:
        proc = run_cli(tenants_env, "db", "clone", src, dst, "--no-neutralize", "--json")
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert (result["method"], result["released_sessions"]) == ("template", 1)
        # the pooled connection was released: Odoo's pool.borrow() resets it, fails, reconnects
        with pytest.raises(psycopg2.OperationalError):
            pooled.reset()
    finally:
        pooled.close()
    with connect(tsettings, src) as conn, conn.cursor() as cr:  # the source serves again
        cr.execute("SELECT count(*) FROM ir_attachment")
        assert cr.fetchone()[0] == 3
    assert params(tsettings, dst)["database.uuid"] != "old-uuid"


def test_live_template_copy_holds_new_connections_during_the_copy(
    tsettings: Settings, fake_odoo: Callable[..., str], dbname: Callable[[str], str]
) -> None:
    src = fake_odoo("held")
    dst = dbname("held_copy")
    pooled = pooled_session(tsettings, src)
    seen: list[object] = []

    def copy_began() -> bool:
        with connect(tsettings) as conn, conn.cursor() as cr:
            cr.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE %s) "
                "OR EXISTS (SELECT 1 FROM pg_database WHERE datname = %s)",
                (f'CREATE DATABASE "{dst}"%', dst),
            )
            return cr.fetchone()[0]

    def newcomer() -> None:  # a request that needs a new connection while the copy runs
        try:
            # not before the copy: a session already there is one it cannot release (a fixed
            # 50 ms came before the copy's first look on a loaded machine)
            wait_until(copy_began, 10, "the copy to start", interval=0.005)
            with connect(tsettings, src) as conn, conn.cursor() as cr:
                cr.execute("SELECT count(*) FROM ir_attachment")
                seen.append(cr.fetchone()[0])
        except Exception as exc:  # pragma: no cover - reported below
            seen.append(exc)

    thread = threading.Thread(target=newcomer)
    thread.start()
    try:
        assert copies.copy_by_template_live(tsettings, src, dst, wait=0.5) == 1
    finally:
        thread.join()
        pooled.close()
    assert seen == [3]
    assert databases.exists(tsettings, dst)


def test_live_template_copy_leaves_a_connection_the_pool_just_lent_out(
    tsettings: Settings, fake_odoo: Callable[..., str], dbname: Callable[[str], str]
) -> None:
    """Odoo's pool resets a connection when a request borrows it (DISCARD ALL); the request's
    first statement may come more than 50 ms later. Released in between, that statement would
    fail: such a connection is never released, and the copy gives way after `wait`."""
    src = fake_odoo("lent")
    dst = dbname("lent_copy")
    lent = pooled_session(tsettings, src)
    lent.reset()  # what ConnectionPool.borrow() does
    time.sleep(0.1)
    try:
        with pytest.raises(copies.SourceBusy, match="stayed in use"):
            copies.copy_by_template_live(tsettings, src, dst, wait=0.3)
        with lent.cursor() as cr:  # the request's first statement works
            cr.execute("SELECT count(*) FROM ir_attachment")
            assert cr.fetchone()[0] == 3
    finally:
        lent.close()
    assert not databases.exists(tsettings, dst)


def test_live_template_copy_never_holds_new_connections_longer_than_hold(
    tsettings: Settings, fake_odoo: Callable[..., str], dbname: Callable[[str], str]
) -> None:
    src = fake_odoo("hold")
    dst = dbname("hold_copy")
    busy = pooled_session(tsettings, src, in_transaction=True)  # the copy cannot start
    started = time.monotonic()
    try:
        with pytest.raises(copies.SourceBusy, match=r"hold its users more than 0\.3 s"):
            copies.copy_by_template_live(tsettings, src, dst, wait=10, hold=0.3)
        assert time.monotonic() - started < 2
        with connect(tsettings, src) as conn, conn.cursor() as cr:  # nobody is held any more
            cr.execute("SELECT 1")
        with busy.cursor() as cr:  # the busy session was left alone
            cr.execute("SELECT count(*) FROM ir_attachment")
    finally:
        busy.close()
    assert not databases.exists(tsettings, dst)


@pytest.mark.parametrize("who", ["busy odoo", "other program"])
def test_clone_falls_back_online_when_sessions_cannot_be_released(
    tenants_env: dict[str, str],
    tsettings: Settings,
    fake_odoo: Callable[..., str],
    dbname: Callable[[str], str],
    who: str,
) -> None:
    src = fake_odoo("inuse")
    dst = dbname("inuse_copy")
    if who == "busy odoo":  # a pooled session inside a transaction longer than the wait
        user = pooled_session(tsettings, src, in_transaction=True)
    else:  # psql, a BI tool ...: never disconnected, even when idle
        user = psycopg2.connect(**{**tsettings.connect_kwargs(src), "application_name": "psql"})
    try:
        started = time.monotonic()
        proc = run_cli(tenants_env, "db", "clone", src, dst, "--no-neutralize", "--json")
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert (result["method"], result["released_sessions"]) == ("online", 0)
        assert time.monotonic() - started < 30
        with user.cursor() as cr:  # the user's session and transaction survived
            cr.execute("SELECT count(*) FROM ir_attachment")
            assert cr.fetchone()[0] == 3
    finally:
        user.close()
    assert params(tsettings, dst)["database.uuid"] != "old-uuid"
    with connect(tsettings) as conn, conn.cursor() as cr:  # no half-made copy left behind
        cr.execute("SELECT count(*) FROM pg_database WHERE datname LIKE %s", (f"{dst}%",))
        assert cr.fetchone()[0] == 1


def test_clone_force_disconnect_uses_fast_path(
    tenants_env: dict[str, str],
    tsettings: Settings,
    fake_odoo: Callable[..., str],
    dbname: Callable[[str], str],
) -> None:
    src = fake_odoo("force")
    dst = dbname("forced")
    conn = psycopg2.connect(**tsettings.connect_kwargs(src))
    try:
        proc = run_cli(
            tenants_env, "db", "clone", src, dst, "--no-neutralize", "--force-disconnect", "--json"
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["method"] == "template"
        with pytest.raises(psycopg2.OperationalError), conn.cursor() as cr:
            cr.execute("SELECT 1")
    finally:
        conn.close()


def test_clone_refuses_existing_target_and_missing_source(
    tenants_env: dict[str, str], fake_odoo: Callable[..., str], dbname: Callable[[str], str]
) -> None:
    a, b = fake_odoo("a"), fake_odoo("b")
    proc = run_cli(tenants_env, "db", "clone", a, b, "--no-neutralize")
    assert proc.returncode == 3 and "already exists" in proc.stderr
    proc = run_cli(tenants_env, "db", "clone", dbname("missing"), dbname("x"))
    assert proc.returncode == 1 and "does not exist" in proc.stderr


def test_failed_clone_leaves_nothing(
    tenants_env: dict[str, str],
    tsettings: Settings,
    fake_odoo: Callable[..., str],
    dbname: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """Neutralization needs Odoo's addons path: with a broken ODOO_BIN the clone fails cleanly."""
    src = fake_odoo("fail")
    dst = dbname("failed")
    runtime = str(tmp_path / "rt")  # the test's own: no other test's locks
    env = {**tenants_env, "ODOO_BIN": "/nonexistent/odoo", "ODOO_SAAS_RUNTIME_DIR": runtime}
    proc = run_cli(env, "db", "clone", src, dst)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not databases.exists(tsettings, dst)
    assert not tsettings.filestore(dst).exists()


def test_clone_of_a_database_that_is_not_odoo_leaves_nothing(
    tenants_env: dict[str, str], tsettings: Settings, dbname: Callable[[str], str]
) -> None:
    """Odoo's tables are looked for on the copy: a clone of another program's database is
    refused with nothing left behind, and --force-disconnect never disconnects its users."""
    src = dbname("plain")
    databases.create_database(tsettings, src)
    with connect(tsettings, src) as conn, conn.cursor() as cr:
        cr.execute("CREATE TABLE t (x int)")
    tsettings.filestore(src).mkdir(parents=True)
    (tsettings.filestore(src) / "f").write_text("x")
    user = psycopg2.connect(**tsettings.connect_kwargs(src))
    try:
        for extra in ((), ("--force-disconnect",)):
            dst = dbname("notodoo")
            proc = run_cli(tenants_env, "db", "clone", src, dst, *extra)
            assert proc.returncode == 1, proc.stderr
            assert proc.stderr.strip() == f"odoo-saas: error: {src} is not an Odoo database"
            assert not databases.exists(tsettings, dst)
            assert not tsettings.filestore(dst).exists()
        with user.cursor() as cr:  # still connected
            cr.execute("SELECT 1")
    finally:
        user.close()


SHAPES = {
    "missing": ("DROP TABLE ir_config_parameter", "(no ir_config_parameter table)"),
    "other": (
        "DROP TABLE ir_config_parameter; CREATE TABLE ir_config_parameter (key text, value text)",
        "cannot renew the database's identity",
    ),
}


@pytest.mark.parametrize("neutralize", [True, False], ids=["neutralized", "as-is"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_clone_of_an_odoo_shaped_database_without_its_parameters_is_one_line(
    tenants_env: dict[str, str],
    tsettings: Settings,
    fake_odoo: Callable[..., str],
    dbname: Callable[[str], str],
    neutralize: bool,
    shape: str,
) -> None:
    """Issue 26 item 9: Odoo's module table but no ir_config_parameter (or one of another
    shape) printed a traceback."""
    src = fake_odoo("noparams")
    change, said = SHAPES[shape]
    with connect(tsettings, src) as conn, conn.cursor() as cr:
        cr.execute(change)
    dst = dbname("noparams")
    extra = () if neutralize else ("--no-neutralize",)
    proc = run_cli(tenants_env, "db", "clone", src, dst, *extra)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert said in proc.stderr, proc.stderr
    assert not databases.exists(tsettings, dst)
    assert not tsettings.filestore(dst).exists()


def sessions_started(cr: psycopg2.extensions.cursor) -> int:
    """Backends started so far in the whole cluster, once the ended ones have reported (they
    publish their counters when they exit, which may be after their client has gone)."""
    last, still_since = -1, time.monotonic()
    deadline = still_since + 5
    while time.monotonic() < deadline:
        cr.execute("SELECT pg_stat_clear_snapshot()")
        cr.execute("SELECT sum(sessions)::int FROM pg_stat_database")
        now = cr.fetchone()[0]
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since > 0.5:
            break
        time.sleep(0.05)
    return last


def test_clone_starts_three_backends(
    tenants_env: dict[str, str],
    tsettings: Settings,
    fake_odoo: Callable[..., str],
    dbname: Callable[[str], str],
) -> None:
    """Each backend start costs PostgreSQL a fork and the client an authentication: the checks
    and the copy's new role run on the locks' session, the hand-over of the copy's objects to
    that role on a management session inside the copy, the new tenant's work (identity,
    neutralization) on one more, as the copy's own role."""
    src = fake_odoo("few")
    with connect(tsettings) as conn, conn.cursor() as cr:  # one session counts, before and after
        before = sessions_started(cr)
        proc = run_cli(tenants_env, "db", "clone", src, dbname("few_copy"), "--no-neutralize")
        assert proc.returncode == 0, proc.stderr
        # the source is idle: CREATE DATABASE runs on the locks' session too
        assert sessions_started(cr) - before == 3


def test_concurrent_operations_are_serialized(
    tenants_env: dict[str, str],
    tsettings: Settings,
    fake_odoo: Callable[..., str],
    dbname: Callable[[str], str],
) -> None:
    src = fake_odoo("locked")
    with tenant_lock(tsettings, src, operation="test"):
        for args in (
            ("db", "drop", src, "--no-backup"),
            ("db", "rename", src, dbname("ren")),
            ("db", "clone", src, dbname("cl"), "--no-neutralize"),
        ):
            proc = run_cli(tenants_env, *args)
            assert proc.returncode == 4, (args, proc.stderr)
            assert "busy" in proc.stderr
        target = dbname("target")
        with tenant_lock(tsettings, target, operation="test"):
            pass
    assert databases.exists(tsettings, src)
    # a clone locks the target too
    other = fake_odoo("other")
    with tenant_lock(tsettings, target, operation="test"):
        proc = run_cli(tenants_env, "db", "clone", other, target, "--no-neutralize")
        assert proc.returncode == 4


def test_several_tenant_locks_are_taken_on_one_session_or_none_is_kept(
    tsettings: Settings, dbname: Callable[[str], str]
) -> None:
    a, b = dbname("lock_a"), dbname("lock_b")
    with tenant_locks(tsettings, b, a, operation="test") as held:
        assert {lock.conn for lock in held.locks} == {held.session}
        assert is_locked(tsettings, a) and is_locked(tsettings, b)
        held.ensure_held("test")
    assert not is_locked(tsettings, a) and not is_locked(tsettings, b)
    with tenant_lock(tsettings, b, operation="test"):
        with pytest.raises(BusyError) as err, tenant_locks(tsettings, a, b, operation="copy"):
            pass
        assert str(err.value).startswith(f"{b} is busy") and "try the copy again" in str(err.value)
        assert not is_locked(tsettings, a)  # taken with b, given back when b was refused


def test_drop_refuses_protected_databases(
    tenants_env: dict[str, str], tsettings: Settings, dbname: Callable[[str], str]
) -> None:
    for name in ("postgres", "template0", "template1", "odoo_saas_tpl_0123"):
        proc = run_cli(tenants_env, "db", "drop", name, "--no-backup")
        assert proc.returncode == 2, proc.stderr
    tpl = dbname("tpl")
    with connect(tsettings) as conn, conn.cursor() as cr:
        cr.execute(sql.SQL("CREATE DATABASE {} IS_TEMPLATE true").format(ident(tpl)))
    proc = run_cli(tenants_env, "db", "drop", tpl, "--no-backup")
    assert proc.returncode == 2 and "template" in proc.stderr
    assert databases.exists(tsettings, tpl)
    assert {"postgres", "template0", "template1"} <= set(databases.comments(tsettings, ""))


def test_drop_takes_last_backup_then_removes_everything(
    tenants_env: dict[str, str], tsettings: Settings, fake_odoo: Callable[..., str]
) -> None:
    name = fake_odoo("drop")
    proc = run_cli(tenants_env, "db", "drop", name, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    backup = result["backup"]
    assert backup and os.path.dirname(backup) == str(tsettings.backup_dir / "dropped")
    assert os.path.getsize(backup) > 0
    assert not databases.exists(tsettings, name)
    assert not tsettings.filestore(name).exists()
    again = run_cli(tenants_env, "db", "drop", name, "--no-backup")
    assert again.returncode == 3


def test_drop_keeps_tenant_when_backup_fails(
    tenants_env: dict[str, str], tsettings: Settings, fake_odoo: Callable[..., str]
) -> None:
    name = fake_odoo("keep")
    victim = next(tsettings.filestore(name).glob("*/*"))
    victim.unlink()  # a referenced attachment is missing: the backup must fail
    proc = run_cli(tenants_env, "db", "drop", name)
    assert proc.returncode == 1, proc.stderr
    assert databases.exists(tsettings, name)
    assert tsettings.filestore(name).exists()


def test_rename_moves_database_and_filestore(
    tenants_env: dict[str, str],
    tsettings: Settings,
    fake_odoo: Callable[..., str],
    dbname: Callable[[str], str],
) -> None:
    old = fake_odoo("old")
    new = dbname("new")
    files = inodes(tsettings.filestore(old))
    proc = run_cli(tenants_env, "db", "rename", old, new)
    assert proc.returncode == 0, proc.stderr
    assert not databases.exists(tsettings, old) and databases.exists(tsettings, new)
    assert not tsettings.filestore(old).exists()
    assert inodes(tsettings.filestore(new)) == files
    again = run_cli(tenants_env, "db", "rename", old, dbname("x"))
    assert again.returncode == 1 and "does not exist" in again.stderr


def test_rename_rolls_back_when_filestore_move_fails(
    tsettings: Settings,
    fake_odoo: Callable[..., str],
    dbname: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = fake_odoo("rb")
    new = dbname("rb2")

    def broken(src, dst):
        raise SaasError("disk on fire")

    monkeypatch.setattr(filestore, "rename", broken)
    with pytest.raises(SaasError, match="disk on fire"):
        rename_mod.rename_tenant(tsettings, old, new)
    assert databases.exists(tsettings, old) and not databases.exists(tsettings, new)
    assert tsettings.filestore(old).exists()


def test_list_json(
    tenants_env: dict[str, str], tsettings: Settings, fake_odoo: Callable[..., str]
) -> None:
    name = fake_odoo("list", files=4)
    odd = f"{name}/odd"  # no directory can have this name: listed without a filestore
    new_database(tsettings, odd)
    try:
        proc = run_cli(tenants_env, "db", "list", "--json")
    finally:
        databases.drop(tsettings, odd)
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert rows[odd]["state"] == "not-odoo" and rows[odd]["filestore_bytes"] == 0
    row = rows[name]
    assert row["state"] == "ready" and row["odoo_version"] == "19.0.1.3"
    assert row["db_size_bytes"] > 1_000_000
    assert row["filestore_bytes"] == filestore.size(tsettings.filestore(name)) > 0
    hidden = [r for n, r in rows.items() if n.startswith("odoo_saas_")]  # only when left over
    assert all(r["state"].startswith(("orphaned-", "in-progress-")) for r in hidden)
    text = run_cli(tenants_env, "db", "list")
    assert text.returncode == 0 and name in text.stdout


def test_list_remembers_unwritten_tenants_and_asks_written_ones_again(
    tenants_env: dict[str, str], tsettings: Settings, fake_odoo: Callable[..., str]
) -> None:
    """Issue 13 goal 4 (db list of 500 tenants <= 2 s): a tenant nobody wrote to is not asked
    again; a write, a new file or --fresh shows the truth."""

    def listed(*extra: str, env: dict[str, str] = tenants_env) -> dict[str, dict]:
        proc = run_cli(env, "db", "list", "--json", *extra)
        assert proc.returncode == 0, proc.stderr
        return {r["name"]: r for r in json.loads(proc.stdout)}

    writes = (
        "SELECT tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = %s"
    )

    def counter() -> int:
        with connect(tsettings) as conn, conn.cursor() as cr:
            cr.execute(writes, (name,))
            return cr.fetchone()[0]

    def connection_limit(limit: int) -> None:
        with connect(tsettings) as conn, conn.cursor() as cr:
            cr.execute(f'ALTER DATABASE "{name}" CONNECTION LIMIT {limit}')

    name = fake_odoo("memo", files=2)
    settle_write_counters(tsettings, name)
    # A new container (its own runtime directory, the same data volume) keeps what was learnt.
    new_container = {**tenants_env, "ODOO_SAAS_RUNTIME_DIR": str(tsettings.runtime_dir) + "-new"}
    for _attempt in range(3):
        # Listed until its counter stayed still for a second around the listing: a loaded
        # machine publishes the counters of the sessions that made it (or of autovacuum) late.
        deadline = time.monotonic() + 20
        while True:
            seen = counter()
            assert listed()[name]["state"] == "ready"
            time.sleep(1.0)
            if counter() == seen or time.monotonic() > deadline:
                break
        # Unreachable for the tenant role from now on: a listing that still shows "ready" did
        # not connect to it.
        connection_limit(0)
        states = [listed()[name]["state"], listed(env=new_container)[name]["state"]]
        if counter() == seen:  # nobody wrote meanwhile, so neither listing may have asked
            break
        connection_limit(-1)  # autovacuum wrote in it (a loaded machine): again
    assert states == ["ready", "ready"]
    assert listed("--fresh")[name]["state"] == "unreachable"
    connection_limit(-1)
    # A write, once PostgreSQL has published the counters (at the latest when its session
    # ends; waited for here, the backend exits after the client): asked again.
    with connect(tsettings) as conn, conn.cursor() as cr:
        cr.execute(writes, (name,))
        before_write = cr.fetchone()[0]
    with connect(tsettings, name) as conn, conn.cursor() as cr:
        cr.execute("UPDATE ir_module_module SET state = 'to upgrade' WHERE name = 'base'")
    deadline = time.monotonic() + 15
    while True:
        with connect(tsettings) as conn, conn.cursor() as cr:
            cr.execute("SELECT pg_stat_clear_snapshot()")
            cr.execute(writes, (name,))
            if cr.fetchone()[0] != before_write or time.monotonic() > deadline:
                break
        time.sleep(0.1)
    assert listed()[name]["state"] == "pending"
    # A new attachment file: the filestore is measured again.
    before = listed()[name]["filestore_bytes"]
    extra = tsettings.filestore(name) / "ff" / ("f" * 40)
    extra.parent.mkdir(exist_ok=True)
    extra.write_bytes(b"x" * 1234)
    assert listed()[name]["filestore_bytes"] == before + 1234


def test_drop_disconnects_users_before_its_last_backup(
    tenants_env: dict[str, str], tsettings: Settings, fake_odoo: Callable[..., str]
) -> None:
    """Issue 11 item 4: writes committed while `db drop` ran its last backup were missing from
    it. Now the tenant is renamed away first (users disconnected, no new connection possible):
    every write a client saw committed is in the last backup."""
    import threading
    import time

    name = fake_odoo("busy")
    with connect(tsettings, name) as conn, conn.cursor() as cr:
        cr.execute("CREATE TABLE journal_entry (id serial PRIMARY KEY, at timestamp)")
    committed: list[int] = []
    stop = threading.Event()

    def writer() -> None:  # a user saving records as fast as the server lets them
        while not stop.is_set():
            try:
                conn = psycopg2.connect(**tsettings.connect_kwargs(name))
                try:
                    with conn.cursor() as cr:
                        cr.execute("INSERT INTO journal_entry (at) VALUES (now()) RETURNING id")
                        new_id = cr.fetchone()[0]
                    conn.commit()
                finally:
                    conn.close()
                committed.append(new_id)  # the commit returned: the user saw it saved
            except psycopg2.Error:
                time.sleep(0.01)  # disconnected, or the database is gone

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        wait_until(lambda: len(committed) >= 20, 60, "20 commits", interval=0.02)
        proc = run_cli(tenants_env, "db", "drop", name, "--json")
    finally:
        stop.set()
        thread.join(30)
    assert proc.returncode == 0, proc.stderr
    backup = json.loads(proc.stdout)["backup"]
    restored = f"{name}_r"
    restore = run_cli(tenants_env, "db", "restore", restored, backup)
    assert restore.returncode == 0, restore.stderr
    try:
        with connect(tsettings, restored) as conn, conn.cursor() as cr:
            cr.execute("SELECT id FROM journal_entry")
            saved = {row[0] for row in cr.fetchall()}
        assert set(committed) <= saved, f"lost: {sorted(set(committed) - saved)[:5]}"
    finally:
        databases.drop(tsettings, restored)
        filestore.remove(tsettings.filestore(restored))
