"""odoo.conf and supervisord.conf: rendered privately, atomically, master password hashed."""

from __future__ import annotations

import configparser
import re
import stat

import pytest
from passlib.context import CryptContext

from odoo_saas_tools.core.passwords import hash_password, verify_password
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.runtime import render
from tests.conftest import ADMIN_PASSWD

# The context Odoo 19 verifies admin_passwd with (odoo/tools/config.py).
ODOO_CRYPT = CryptContext(
    ["pbkdf2_sha512", "plaintext"], deprecated=["plaintext"], pbkdf2_sha512__rounds=600_000
)


def read_options(path) -> configparser.SectionProxy:
    conf = configparser.RawConfigParser()
    conf.read(path)
    return conf


def test_hash_is_what_passlib_and_odoo_verify():
    hashed = hash_password("s3cret pass", rounds=1000)
    assert hashed.startswith("$pbkdf2-sha512$1000$")
    assert ODOO_CRYPT.verify("s3cret pass", hashed)
    assert not ODOO_CRYPT.verify("wrong", hashed)
    assert verify_password("s3cret pass", ODOO_CRYPT.hash("s3cret pass"))
    assert not verify_password("", hashed)


def test_odoo_conf_is_private_and_complete(saas_env, tmp_path):
    env = {
        **saas_env,
        "ODOO_WORKERS": "3",
        "ODOO_DB_FILTER": "^%d$",
        "ODOO_PROXY_MODE": "true",
        "ODOO_SMTP_SERVER": "smtp.example.com",
        "ODOO_SMTP_PASSWORD": "smtp-secret-77",
        "ODOO_EXTRA_ADDONS": f"{tmp_path / 'addons'},{tmp_path / 'absent'}",
    }
    (tmp_path / "addons" / "my_mod").mkdir(parents=True, exist_ok=True)
    s = Settings.from_env(env)
    plan = render.render_all(s)
    assert plan.skipped_addons == [str(tmp_path / "absent")]
    for path in (s.odoo_conf, s.supervisord_conf):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(s.runtime_dir.stat().st_mode) == 0o700
    assert [p.name for p in s.runtime_dir.iterdir() if p.name.startswith(".")] == []
    o = read_options(s.odoo_conf)["options"]
    # odoo-saas's own addons first (no extra addon can shadow them), then the hoster's
    assert o["addons_path"] == f"{render.BUNDLED_ADDONS},{tmp_path / 'addons'}"
    assert o["db_host"] == "127.0.0.1" and o["db_password"] == saas_env["ODOO_DB_PASSWORD"]
    assert o["dbfilter"] == "(?!odoo_saas_)(?:^%d$)"
    assert o["proxy_mode"] == "True" and o["list_db"] == "False"
    assert o["workers"] == "3" and o["gevent_port"] == "8072" and o["http_port"] == "8069"
    assert o["server_wide_modules"] == "base,rpc,web,odoo_saas_tenancy"
    assert o["data_dir"] == saas_env["ODOO_DATA_DIR"]
    assert o["smtp_server"] == "smtp.example.com" and o["smtp_password"] == "smtp-secret-77"
    assert o["pidfile"] == str(s.runtime_dir / "odoo.pid")
    assert o["admin_passwd"].startswith("$pbkdf2-sha512$600000$")
    assert ODOO_CRYPT.verify(ADMIN_PASSWD, o["admin_passwd"])
    assert ADMIN_PASSWD not in s.odoo_conf.read_text()


def test_supervisord_conf_holds_no_secret_and_only_enabled_programs(saas_env):
    s = Settings.from_env({**saas_env, "ODOO_AUTO_BACKUP": "false", "ODOO_METRICS_ENABLED": "true"})
    render.render_all(s)
    conf = read_options(s.supervisord_conf)
    text = s.supervisord_conf.read_text()
    for secret in s.secret_values():
        assert secret not in text
    assert "program:odoo" in conf and "program:metrics" in conf
    assert "program:backup-scheduler" not in conf
    assert conf["unix_http_server"]["chmod"] == "0700"
    assert conf["program:odoo"]["command"].endswith("-m odoo_saas_tools run-odoo")
    s2 = Settings.from_env(
        {**saas_env, "ODOO_AUTO_BACKUP": "true", "ODOO_METRICS_ENABLED": "false"}
    )
    render.render_all(s2)
    conf2 = read_options(s2.supervisord_conf)
    assert "program:backup-scheduler" in conf2 and "program:metrics" not in conf2


def test_redis_sessions_join_the_server_wide_modules(saas_env):
    s = Settings.from_env(
        {
            **saas_env,
            "ODOO_ENABLE_REDIS": "true",
            "ODOO_REDIS_HOST": "cache",
            "ODOO_REDIS_PASSWORD": "p@ss/word",
            "ODOO_REDIS_DBINDEX": "2",
        }
    )
    render.render_all(s)
    conf = read_options(s.odoo_conf)
    assert (
        conf["options"]["server_wide_modules"]
        == "base,rpc,web,odoo_saas_tenancy,odoo_saas_session_redis"
    )
    assert str(render.BUNDLED_ADDONS) in conf["options"]["addons_path"].split(",")
    assert conf["session_redis"]["url"] == "redis://:p%40ss%2Fword@cache:6379/2"


def test_unset_master_password_forbids_the_manager(saas_env):
    env = dict(saas_env)
    del env["ODOO_ADMIN_PASSWD"]
    s = Settings.from_env(env)
    render.render_all(s)
    assert read_options(s.odoo_conf)["options"]["admin_passwd"] == ""


def test_an_already_hashed_password_is_kept(saas_env):
    hashed = hash_password("precomputed", rounds=1000)
    s = Settings.from_env({**saas_env, "ODOO_ADMIN_PASSWD": hashed})
    render.render_all(s)
    assert read_options(s.odoo_conf)["options"]["admin_passwd"] == hashed


@pytest.mark.parametrize("workers", ["", "auto"])
def test_workers_are_derived_when_unset(saas_env, workers):
    s = Settings.from_env({**saas_env, "ODOO_WORKERS": workers})
    plan = render.render_all(s)
    assert plan.workers >= 1
    assert read_options(s.odoo_conf)["options"]["workers"] == str(plan.workers)


def test_an_empty_addons_directory_is_left_off_the_path_quietly(saas_env, tmp_path):
    """The image's /mnt/extra-addons with nothing mounted (or compose's ./addons with only its
    .gitkeep): Odoo would log "invalid addons directory" in every one of its processes."""
    empty, hidden_only, used = tmp_path / "empty", tmp_path / "hidden", tmp_path / "used"
    for d in (empty, hidden_only, used / "my_mod"):
        d.mkdir(parents=True)
    (hidden_only / ".gitkeep").touch()
    env = {**saas_env, "ODOO_EXTRA_ADDONS": f"{empty},{hidden_only},{used}"}
    plan = render.render_all(Settings.from_env(env))
    assert plan.addons_path == [str(render.BUNDLED_ADDONS), str(used)]
    assert plan.skipped_addons == []


def odoo_serves(dbfilter: str | None, db_name: list[str], dbs: list[str], host: str) -> list[str]:
    """Odoo 19's http.db_filter: the dbfilter (with %d, %h) wins, else db_name, else all."""
    if dbfilter:
        domain = host.partition(".")[0]
        rx = re.compile(dbfilter.replace("%h", re.escape(host)).replace("%d", re.escape(domain)))
        return [db for db in dbs if rx.match(db)]
    return sorted(set(db_name) & set(dbs)) if db_name else dbs


@pytest.mark.parametrize(
    ("db_filter", "db_name", "host", "served"),
    [
        ("", "", "x.example.com", ["acme", "beta"]),  # everything but the hidden ones
        ("^%d$", "", "acme.example.com", ["acme"]),
        ("^%d$", "", "odoo_saas_spare_1.example.com", []),
        (".*", "", "x.example.com", ["acme", "beta"]),
        ("", "acme", "x.example.com", ["acme"]),  # db_name alone: Odoo serves only it
    ],
)
def test_odoo_never_serves_hidden_databases(saas_env, db_filter, db_name, host, served):
    """Spare tenants, restores in progress and replaced tenants are odoo_saas_* databases of
    the same role: the rendered dbfilter keeps them out of Odoo's database selector."""
    s = Settings.from_env({**saas_env, "ODOO_DB_FILTER": db_filter, "ODOO_DB_NAME": db_name})
    render.render_all(s)
    options = read_options(s.odoo_conf)["options"]
    dbs = ["acme", "beta", "odoo_saas_spare_1", "odoo_saas_restore_2", "odoo_saas_replaced_3"]
    assert odoo_serves(options.get("dbfilter"), [db_name] if db_name else [], dbs, host) == served
