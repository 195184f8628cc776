"""ODOO_SAAS_ROLE: one role per container (web, cron, backup, metrics) or the whole stack (all).

The rendered files decide what runs, so they are what is checked; supervisord running them is
covered by test_supervisor.py.
"""

from __future__ import annotations

import configparser

import pytest

from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.runtime import render


def rendered(saas_env: dict[str, str], **extra: str) -> tuple[configparser.RawConfigParser, str]:
    s = Settings.from_env({**saas_env, "ODOO_AUTO_BACKUP": "true", **extra})
    render.render_all(s)
    odoo = configparser.RawConfigParser()
    odoo.read(s.odoo_conf)
    return odoo, s.supervisord_conf.read_text()


def programs(supervisord_conf: str) -> set[str]:
    conf = configparser.RawConfigParser()
    conf.read_string(supervisord_conf)
    return {name.split(":", 1)[1] for name in conf.sections() if name.startswith("program:")}


def watched(supervisord_conf: str) -> list[str]:
    conf = configparser.RawConfigParser()
    conf.read_string(supervisord_conf)
    words = conf["eventlistener:watchdog"]["command"].split()
    return [words[i + 1] for i, w in enumerate(words) if w == "--program"]


def test_all_is_the_documented_stack(saas_env):
    odoo, sup = rendered(saas_env, ODOO_MAX_CRON_THREADS="3")
    assert programs(sup) == {"odoo", "backup-scheduler", "metrics"}
    assert odoo["options"]["max_cron_threads"] == "3"
    assert odoo["options"]["http_enable"] == "True"
    assert watched(sup) == ["odoo"]


def test_web_runs_no_crons_and_no_backups(saas_env):
    odoo, sup = rendered(saas_env, ODOO_SAAS_ROLE="web", ODOO_MAX_CRON_THREADS="3")
    assert programs(sup) == {"odoo", "metrics"}
    assert odoo["options"]["max_cron_threads"] == "0"
    assert odoo["options"]["http_enable"] == "True"
    assert watched(sup) == ["odoo"]


def test_cron_runs_crons_without_http(saas_env):
    odoo, sup = rendered(saas_env, ODOO_SAAS_ROLE="cron", ODOO_MAX_CRON_THREADS="3")
    assert programs(sup) == {"odoo", "metrics"}
    assert odoo["options"]["max_cron_threads"] == "3"
    assert odoo["options"]["http_enable"] == "False"


def test_backup_runs_only_the_scheduler(saas_env):
    _, sup = rendered(saas_env, ODOO_SAAS_ROLE="backup", ODOO_AUTO_BACKUP="false")
    assert programs(sup) == {"backup-scheduler"}
    assert watched(sup) == ["backup-scheduler"]


def test_metrics_runs_only_the_exporter(saas_env):
    _, sup = rendered(saas_env, ODOO_SAAS_ROLE="metrics")
    assert programs(sup) == {"metrics"}
    assert watched(sup) == ["metrics"]


def test_metrics_scope_per_role(saas_env):
    by_role = {r: Settings.from_env({**saas_env, "ODOO_SAAS_ROLE": r}) for r in ("all", "web")}
    assert by_role["all"].metrics_pool and not by_role["web"].metrics_pool
    pool = Settings.from_env({**saas_env, "ODOO_SAAS_ROLE": "metrics"})
    assert pool.metrics_pool and not pool.runs_odoo


def test_unknown_role_is_one_clear_error(saas_env):
    with pytest.raises(ConfigError, match="ODOO_SAAS_ROLE"):
        Settings.from_env({**saas_env, "ODOO_SAAS_ROLE": "webs"})


@pytest.mark.parametrize(
    ("role", "runs"), [("all", True), ("cron", True), ("web", False), ("backup", False)]
)
def test_spares_are_kept_once_per_pool(saas_env, role, runs):
    """PROVISION_SPARES: the all-in-one or the single cron container keeps them, never a web
    replica (N replicas would each make them) nor a container of another role."""
    _, sup = rendered(saas_env, ODOO_SAAS_ROLE=role, PROVISION_SPARES="3")
    assert ("spares" in programs(sup)) is runs
    assert ("signups" in programs(sup)) is runs  # the warm process signups run in
    if runs:
        assert "tenant spares --watch" in sup
        assert "tenant serve" in sup
    _, sup = rendered(saas_env, ODOO_SAAS_ROLE=role, PROVISION_SPARES="0")
    assert "spares" not in programs(sup)
    assert "signups" not in programs(sup)


def test_negative_spares_are_refused(saas_env):
    with pytest.raises(ConfigError, match="PROVISION_SPARES"):
        Settings.from_env({**saas_env, "PROVISION_SPARES": "-1"})


def test_api_runs_alone_in_its_role_and_beside_odoo_only_when_enabled(saas_env):
    _, sup = rendered(saas_env, ODOO_SAAS_ROLE="api", ODOO_AUTO_BACKUP="false")
    assert programs(sup) == {"api"}
    assert watched(sup) == ["api"]
    assert "api serve" in sup
    _, sup = rendered(saas_env)
    assert "api" not in programs(sup)
    _, sup = rendered(saas_env, ODOO_SAAS_API_ENABLED="true")
    assert programs(sup) == {"odoo", "backup-scheduler", "metrics", "api"}
    assert watched(sup) == ["odoo"]


def test_the_api_keeps_the_management_password_others_do_not(saas_env, monkeypatch):
    """supervisord's environment (which Odoo's programs can read) keeps ODOO_SAAS_DB_PASSWORD
    only where the api (or spares) program needs it."""
    env = {
        **saas_env,
        "ODOO_SAAS_DB_PASSWORD": "manager-secret",
        "AWS_SECRET_ACCESS_KEY": "s3-secret",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    kept = {
        (role, enabled): Settings.from_env(
            {**env, "ODOO_SAAS_ROLE": role, "ODOO_SAAS_API_ENABLED": enabled}
        ).supervisor_environment()
        for role, enabled in (("all", "false"), ("all", "true"), ("api", "false"), ("web", "true"))
    }
    assert "ODOO_SAAS_DB_PASSWORD" not in kept[("all", "false")]
    assert kept[("all", "true")]["ODOO_SAAS_DB_PASSWORD"] == "manager-secret"
    assert kept[("api", "false")]["ODOO_SAAS_DB_PASSWORD"] == "manager-secret"
    assert "ODOO_SAAS_DB_PASSWORD" not in kept[("web", "true")]
    # off-site restores in the api's own container; never beside Odoo for it
    assert kept[("api", "false")]["AWS_SECRET_ACCESS_KEY"] == "s3-secret"
    assert "AWS_SECRET_ACCESS_KEY" not in kept[("all", "true")]
