"""With real Odoo: template cache, create, provisioning, clone, neutralization.

One template (base) is built per session (~15 s); every tenant is a copy of it.
"""

from __future__ import annotations

import http.cookiejar
import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable

import pytest

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo import runner as odoo_runner
from odoo_saas_tools.odoo.environment import odoo_environment
from odoo_saas_tools.postgres.connection import connect
from tests.support.cli import run_cli
from tests.support.jsonrpc import jsonrpc
from tests.support.net import free_port, wait_port

pytestmark = pytest.mark.usefixtures("odoo_template")


def odoo_check(
    settings: Settings, db: str, credentials: list[tuple[str, str]], extra: str = ""
) -> dict:
    """Ask Odoo itself (one `odoo shell`): which (login, password) pairs authenticate, plus
    the JSON-able value of the `extra` expression."""
    script = (
        "import json\n"
        "out = {'uids': []}\n"
        f"for login, password in {credentials!r}:\n"
        "    try:\n"
        "        info = env['res.users'].authenticate({'login': login, 'password': password,"
        " 'type': 'password'}, {'interactive': False})\n"
        "        out['uids'].append(info['uid'])\n"
        "    except Exception:\n"
        "        out['uids'].append(None)\n"
        f"out['extra'] = {extra or 'None'}\n"
        "print('RESULT=' + json.dumps(out))\n"
    )
    text = odoo_runner.shell(settings, db, script)
    for line in text.splitlines():
        if line.startswith("RESULT="):
            return json.loads(line[len("RESULT=") :])
    raise AssertionError(f"odoo shell printed no result:\n{text[-2000:]}")


def params(settings: Settings, db: str) -> dict[str, str]:
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute("SELECT key, value FROM ir_config_parameter")
        return dict(cr.fetchall())


def test_create_from_warm_cache_is_fast_and_login_works(
    odoo_env: dict[str, str], dbname: Callable[[str], str], odoo_template: str
) -> None:
    settings = Settings.from_env(odoo_env)
    name = dbname("create")
    started = time.monotonic()
    proc = run_cli(odoo_env, "db", "create", name, "--json")
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["template"] == odoo_template and result["template_built"] is False
    assert result["filestore"] == "hardlink"
    assert elapsed < 8, f"create from a warm cache took {elapsed:.1f} s"
    password = result["admin_password"]
    assert len(password) >= 20
    tpl_params = params(settings, name)
    assert tpl_params["database.uuid"] == result["uuid"]
    checked = odoo_check(settings, name, [("admin", password), ("admin", "admin")])
    assert checked["uids"] == [2, None]  # our hash works, the template's admin/admin does not

    again = run_cli(odoo_env, "db", "create", name)
    assert again.returncode == 3 and "already exists" in again.stderr


def test_provision_sets_everything_and_is_idempotent(
    odoo_env: dict[str, str], dbname: Callable[[str], str], tmp_path
) -> None:
    env = {**odoo_env, "TENANT_URL_TEMPLATE": "https://{tenant}.example.test"}
    settings = Settings.from_env(env)
    label = dbname("prov")  # unique; the database is odoo_<label>
    db = f"odoo_{label}"
    pw_file = tmp_path / "pw"
    pw_file.write_text("Correct-Horse-Battery-9\n")
    args = ["tenant", "provision", label, "--json", "--admin-login", "boss@acme.test"]
    args += ["--company-name", "ACME Ltd", "--country", "BE", "--tz", "Europe/Brussels"]
    try:
        proc = run_cli(env, *args, "--admin-password-file", str(pw_file))
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert result["database"] == db and result["created"] is True
        assert result["url"] == f"https://{label}.example.test"
        assert result["admin_login"] == "boss@acme.test"
        assert result["admin_password"] is None  # came from the file: not echoed
        assert params(settings, db)["web.base.url"] == result["url"]
        checked = odoo_check(
            settings,
            db,
            [("boss@acme.test", "Correct-Horse-Battery-9")],
            extra="[env.company.name, env.company.country_id.code, env.company.currency_id.name,"
            " env.ref('base.user_admin').tz, env.ref('base.user_admin').email,"
            " env.company.email]",
        )
        assert checked["uids"] == [2]
        assert checked["extra"] == [
            "ACME Ltd",
            "BE",
            "EUR",
            "Europe/Brussels",
            "boss@acme.test",
            "boss@acme.test",
        ]

        again = run_cli(env, *args)
        assert again.returncode == 3, again.stderr
        assert "already exists" in again.stderr and "nothing changed" in again.stderr
        assert json.loads(again.stdout)["created"] is False
        assert params(settings, db)["database.uuid"] == result["uuid"]
    finally:
        from odoo_saas_tools.postgres import databases
        from odoo_saas_tools.tenants import filestore

        databases.drop(settings, db)
        filestore.remove(settings.filestore(db))


def test_clone_is_neutralized_like_odoo_does_it(
    odoo_env: dict[str, str], dbname: Callable[[str], str]
) -> None:
    settings = Settings.from_env(odoo_env)
    src = dbname("prod")
    assert run_cli(odoo_env, "db", "create", src).returncode == 0
    with connect(settings, src) as conn, conn.cursor() as cr:
        cr.execute(
            "INSERT INTO ir_mail_server (name, smtp_host, smtp_port, smtp_encryption, "
            "smtp_authentication, active, sequence) "
            "VALUES ('prod smtp', 'smtp.example.com', 587, 'starttls', 'login', true, 1)"
        )
        cr.execute("UPDATE ir_cron SET active = true")
        cr.execute("SELECT count(*) FROM ir_cron")
        assert cr.fetchone()[0] > 1

    ours, theirs = dbname("staging"), dbname("odoo_neutralized")
    proc = run_cli(odoo_env, "db", "clone", src, ours, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["neutralized"] is True and result["method"] == "template"
    assert set(result["neutralized_modules"]) >= {"base", "web", "iap"}

    p_src, p_dst = params(settings, src), params(settings, ours)
    assert p_dst["database.uuid"] != p_src["database.uuid"]
    assert p_dst["database.secret"] != p_src["database.secret"]
    assert p_dst.get("database.is_neutralized") == "true"
    with connect(settings, ours) as conn, conn.cursor() as cr:
        cr.execute("SELECT smtp_host, active FROM ir_mail_server ORDER BY id")
        servers = cr.fetchall()
        assert ("smtp.example.com", False) in servers
        assert all(host == "invalid" for host, active in servers if active)
        cr.execute(
            "SELECT d.name FROM ir_cron c JOIN ir_model_data d "
            "ON d.model = 'ir.cron' AND d.res_id = c.id WHERE c.active"
        )
        assert [r[0] for r in cr.fetchall()] == ["autovacuum_job"]

    # hard-linked filestore: same inodes as the source
    src_fs, dst_fs = settings.filestore(src), settings.filestore(ours)
    some = next(p for p in src_fs.rglob("*") if p.is_file())
    assert (dst_fs / some.relative_to(src_fs)).stat().st_ino == some.stat().st_ino

    # the same SQL as `odoo neutralize --stdout`, and the same outcome as `odoo neutralize`
    from odoo_saas_tools.odoo import modules as odoo_addons
    from odoo_saas_tools.tenants import neutralize

    with connect(settings, src) as user, user.cursor() as cr:  # a user stays connected
        proc = run_cli(odoo_env, "db", "clone", src, theirs, "--no-neutralize", "--json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["method"] == "online"
        cr.execute("SELECT count(*) FROM res_users")
        assert cr.fetchone()[0] >= 2
    conf = str(odoo_runner.config_path(settings))
    as_theirs = settings.login_for(theirs)  # Odoo's own command, as that tenant's role
    printed = odoo_runner.run(
        settings, ["neutralize", "-c", conf, "-d", theirs, "--stdout"], login=as_theirs
    )
    with connect(settings, theirs) as conn, conn.cursor() as cr:
        todo = neutralize.queries(
            odoo_addons.odoo_install(settings).paths, neutralize.installed_modules(cr)
        )
    expected = "\n".join(["BEGIN;", *(q.rstrip(";") + ";" for _, q in todo), "COMMIT;"])
    assert printed.stdout.decode().strip() == expected
    odoo_runner.run(settings, ["neutralize", "-c", conf, "-d", theirs], login=as_theirs)

    def state(db: str) -> list:
        with connect(settings, db) as conn, conn.cursor() as cr:
            cr.execute(
                "SELECT name, smtp_host, active FROM ir_mail_server ORDER BY name, smtp_host"
            )
            servers = cr.fetchall()
            cr.execute("SELECT id, active FROM ir_cron ORDER BY id")
            crons = cr.fetchall()
            cr.execute(
                "SELECT key, value FROM ir_config_parameter WHERE key = 'database.is_neutralized'"
            )
            return [servers, crons, cr.fetchall()]

    assert state(ours) == state(theirs)


def test_clone_of_a_served_tenant_is_fast_and_its_users_do_not_notice(
    odoo_env: dict[str, str], dbname: Callable[[str], str], tmp_path
) -> None:
    """Odoo (workers 2, a cron worker) serves the source; a logged-in client polls it every
    100 ms through Odoo during the clone: the fast copy is used and the client sees no error
    and no request slower than 2 s (Odoo's pool reconnects the released connections)."""
    settings = Settings.from_env(odoo_env)
    src, dst = dbname("served"), dbname("served_copy")
    created = run_cli(odoo_env, "db", "create", src, "--json")
    assert created.returncode == 0, created.stderr
    password = json.loads(created.stdout)["admin_password"]
    port = free_port()
    argv = [settings.odoo_bin, "server", "-c", str(odoo_runner.config_path(settings)), "-d", src]
    argv += ["--db-filter", f"^{src}$", "--workers", "2", "--max-cron-threads", "1"]
    argv += ["--http-interface", "127.0.0.1", "--http-port", str(port)]
    argv += ["--gevent-port", str(free_port())]
    log_path = tmp_path / "odoo.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            argv, env=odoo_environment(settings), stdout=log, stderr=subprocess.STDOUT
        )
    seen: list[tuple[float, str]] = []
    stop = threading.Event()
    try:
        wait_port(port, 120)
        url = f"http://127.0.0.1:{port}"
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        login = {"db": src, "login": "admin", "password": password}
        deadline = time.monotonic() + 60
        while True:  # the workers may still be starting
            try:
                assert jsonrpc(opener, url + "/web/session/authenticate", login)["uid"]
                break
            except (OSError, RuntimeError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        call = {
            "model": "res.partner",
            "method": "search_read",
            "args": [[]],
            "kwargs": {"fields": ["name"], "limit": 20},
        }

        def poll() -> None:
            while not stop.is_set():
                started = time.monotonic()
                error = ""
                try:
                    jsonrpc(opener, url + "/web/dataset/call_kw/res.partner/search_read", call)
                except Exception as exc:  # what the user would see
                    error = repr(exc)[:300]
                seen.append((time.monotonic() - started, error))
                stop.wait(max(0.0, 0.1 - (time.monotonic() - started)))

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        time.sleep(2)  # both workers' pools hold connections to the source now
        before = len(seen)
        proc = run_cli(odoo_env, "db", "clone", src, dst, "--json")
        time.sleep(1)
        stop.set()
        poller.join(30)
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert result["method"] == "template", result
        assert result["released_sessions"] >= 1
        during = seen[before:]
        assert len(during) >= 3
        assert [e for _, e in during if e] == []
        assert max(t for t, _ in during) < 2.0, during
    finally:
        stop.set()
        server.terminate()
        server.wait(60)
    with connect(settings, dst) as conn, conn.cursor() as cr:
        cr.execute("SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'")
        assert cr.fetchone() == ("true",)


def test_signup_burst_copies_the_template_side_by_side(
    odoo_env: dict[str, str], dbname: Callable[[str], str], odoo_template: str
) -> None:
    """Issue 13 goal 3: 20 provisions at once on a warm cache all succeed, no template is
    built again, and an existing name still exits 3 (times are measured in bench_burst.py)."""
    import sys
    from concurrent.futures import ThreadPoolExecutor

    env = {**odoo_env, "TENANT_DB_PREFIX": ""}
    names = [dbname(f"burst{i}") for i in range(20)]

    def provision(name: str) -> tuple[subprocess.CompletedProcess, float]:
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "odoo_saas_tools", "tenant", "provision", name, "--json"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        return proc, time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        results = list(pool.map(provision, names))
    wall = time.monotonic() - started
    for proc, _ in results:
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert result["created"] and result["template"] == odoo_template
        assert result["template_built"] is False
    assert wall < 60, f"20 provisions took {wall:.1f} s"
    again = run_cli(env, "tenant", "provision", names[0])
    assert again.returncode == 3
