"""Settings: every variable parsed from the environment, bad values named in one line each."""

from __future__ import annotations

from pathlib import Path

import pytest

from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import Settings, documented_variables
from odoo_saas_tools.runtime import resources
from tests.support.cli import base_env, run_cli

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.unit
def test_defaults_need_no_environment():
    s = Settings.from_env({})
    assert s.db_host == "db" and s.db_port == 5432 and s.db_user == "odoo"
    assert s.data_dir == Path("/var/lib/odoo")
    assert s.extra_addons == (Path("/mnt/extra-addons"),)
    assert s.backup_dir == Path("/mnt/backups")
    assert s.metrics_port == 9090 and s.http_port == 8069 and s.gevent_port == 8072
    assert s.backup_schedule == "0 */6 * * *" and s.backup_retention_days == 7
    assert s.workers is None and s.list_db is False and s.tenant_db_prefix == "odoo_"
    assert s.odoo_bin == "odoo"


@pytest.mark.unit
def test_every_variable_is_read_from_its_name():
    env = {
        "ODOO_DB_HOST": "pg.internal",
        "ODOO_DB_PORT": "6432",
        "ODOO_DB_NAME": "acme, beta",
        "ODOO_DB_SSLMODE": "verify-full",
        "ODOO_LIST_DB": "yes",
        "ODOO_DB_FILTER": "^%d$",
        "ODOO_WORKERS": "4",
        "ODOO_LIMIT_MEMORY_SOFT": "1G",
        "ODOO_LIMIT_MEMORY_HARD": "1536M",
        "ODOO_EXTRA_ADDONS": "/a, /b",
        "ODOO_PROXY_MODE": "on",
        "BACKUP_KEEP_WEEKLY": "4",
        "BACKUP_TZ": "Europe/Brussels",
        "AWS_S3_SSE": "AES256",
        "ODOO_SMTP_SSL": "1",
    }
    s = Settings.from_env(env)
    assert s.db_host == "pg.internal" and s.db_port == 6432 and s.db_name == ("acme", "beta")
    assert s.db_sslmode == "verify-full" and s.list_db is True and s.db_filter == "^%d$"
    assert s.workers == 4 and s.limit_memory_soft == 1024**3
    assert s.limit_memory_hard == 1536 * 1024**2
    assert s.extra_addons == (Path("/a"), Path("/b")) and s.proxy_mode is True
    assert s.backup_keep_weekly == 4 and s.backup_keep_daily is None
    assert s.backup_tz == "Europe/Brussels" and s.aws_s3_sse == "AES256" and s.smtp_ssl is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ODOO_WORKERS": "four"}, "ODOO_WORKERS='four' is not a whole number"),
        ({"ODOO_WORKERS": "-1"}, "ODOO_WORKERS=-1 is too small"),
        ({"ODOO_PROXY_MODE": "maybe"}, "ODOO_PROXY_MODE='maybe' is not a boolean"),
        ({"ODOO_DB_PORT": "70000"}, "ODOO_DB_PORT=70000 is not a port"),
        ({"ODOO_DB_SSLMODE": "sometimes"}, "ODOO_DB_SSLMODE='sometimes' is not one of"),
        ({"ODOO_LIMIT_MEMORY_SOFT": "lots"}, "ODOO_LIMIT_MEMORY_SOFT='lots' is not a size"),
        ({"BACKUP_SCHEDULE": "every day"}, "BACKUP_SCHEDULE='every day' is not a cron"),
        ({"BACKUP_TZ": "Mars/Olympus"}, "BACKUP_TZ='Mars/Olympus' is not a known time zone"),
        ({"ODOO_DB_FILTER": "^(%d$"}, "ODOO_DB_FILTER is not a valid regular expression"),
        ({"ODOO_LIST_DB": "true"}, "ODOO_LIST_DB=true with ODOO_DB_FILTER matching every"),
        ({"ODOO_LIST_DB": "true", "ODOO_DB_FILTER": ".*"}, "ODOO_LIST_DB=true with"),
        ({"ODOO_DB_USER": "postgres"}, "ODOO_DB_USER must not be postgres"),
        ({"ODOO_HTTP_PORT": "9090"}, "ODOO_METRICS_PORT and ODOO_HTTP_PORT are both 9090"),
        (
            {"ODOO_LIMIT_MEMORY_SOFT": "2G", "ODOO_LIMIT_MEMORY_HARD": "1G"},
            "ODOO_LIMIT_MEMORY_HARD must be at least ODOO_LIMIT_MEMORY_SOFT",
        ),
        ({"ODOO_DB_NAME": "bad name"}, "ODOO_DB_NAME: 'bad name' is not a valid database name"),
        ({"TENANT_URL_TEMPLATE": "https://example.com"}, "TENANT_URL_TEMPLATE must contain"),
        ({"ODOO_DB_PASSWORD": "a\nb"}, "ODOO_DB_PASSWORD must be a single line"),
    ],
)
@pytest.mark.unit
def test_bad_values_are_named(env, message):
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert message in str(info.value)


@pytest.mark.unit
def test_every_error_is_reported_at_once():
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"ODOO_WORKERS": "x", "ODOO_DB_PORT": "y", "ODOO_LIST_DB": "z"})
    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert {ln.split("=")[0] for ln in lines} == {"ODOO_WORKERS", "ODOO_DB_PORT", "ODOO_LIST_DB"}


@pytest.mark.unit
def test_secrets_come_from_files(tmp_path):
    secret = tmp_path / "db_password"
    secret.write_text("from-a-file\n")
    s = Settings.from_env({"ODOO_DB_PASSWORD_FILE": str(secret)})
    assert s.db_password == "from-a-file"
    with pytest.raises(ConfigError, match="ODOO_DB_PASSWORD and ODOO_DB_PASSWORD_FILE are both"):
        Settings.from_env({"ODOO_DB_PASSWORD_FILE": str(secret), "ODOO_DB_PASSWORD": "x"})
    with pytest.raises(ConfigError, match="ODOO_ADMIN_PASSWD_FILE: cannot read"):
        Settings.from_env({"ODOO_ADMIN_PASSWD_FILE": str(tmp_path / "missing")})


@pytest.mark.unit
def test_server_start_needs_a_real_master_password():
    assert "ODOO_ADMIN_PASSWD is not set" in Settings.from_env({}).server_problems()[0]
    problems = Settings.from_env({"ODOO_ADMIN_PASSWD": "admin"}).server_problems()
    assert any("must not be 'admin'" in p for p in problems)
    ok = Settings.from_env({"ODOO_ADMIN_PASSWD": "long-enough-secret", "ODOO_DB_PASSWORD": "x"})
    assert ok.server_problems() == []


@pytest.mark.unit
def test_risks_are_warnings():
    s = Settings.from_env({"ODOO_DB_FILTER": "%d", "ODOO_ADMIN_PASSWD": "short"})
    text = "\n".join(s.warnings())
    assert "is not anchored" in text
    assert "without ODOO_PROXY_MODE=true" in text
    assert "shorter than 12 characters" in text
    assert "ODOO_AUTO_BACKUP=false" in text


def test_cli_reports_bad_environment_in_one_line_and_exit_2():
    proc = run_cli(base_env({"ODOO_WORKERS": "lots"}), "settings")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "odoo-saas: error: ODOO_WORKERS='lots' is not a whole number"


def test_settings_json_masks_secrets():
    proc = run_cli(base_env({"ODOO_DB_PASSWORD": "hunter2-secret"}), "settings", "--json")
    assert proc.returncode == 0
    assert "hunter2-secret" not in proc.stdout
    assert '"ODOO_DB_PASSWORD": "***"' in proc.stdout


@pytest.mark.unit
def test_readme_documents_every_variable_with_its_default():
    from odoo_saas_tools.core.settings import markdown_table

    text = README.read_text()
    assert markdown_table() in text, "README's variable table is stale: see settings --markdown"
    for row in documented_variables():
        assert f"| `{row['name']}` |" in text


@pytest.mark.parametrize(
    ("files", "cpus", "memory"),
    [
        ({"cpu.max": "150000 100000", "memory.max": str(2 * 1024**3)}, 1.5, 2 * 1024**3),
        ({"cpu.max": "max 100000", "memory.max": "max"}, None, None),
        (
            {
                "cpu/cpu.cfs_quota_us": "300000",
                "cpu/cpu.cfs_period_us": "100000",
                "memory/memory.limit_in_bytes": str(1024**3),
            },
            3.0,
            1024**3,
        ),
    ],
)
@pytest.mark.unit
def test_cgroup_limits(tmp_path, files, cpus, memory):
    for name, value in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(value + "\n")
    import os

    host_cpus = len(os.sched_getaffinity(0))
    got_cpus = resources.cpu_limit(tmp_path)
    assert got_cpus == (min(cpus, host_cpus) if cpus else host_cpus)
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert resources.memory_limit(tmp_path) == (min(memory, physical) if memory else physical)


@pytest.mark.unit
def test_worker_formula():
    gib = 1024**3
    assert resources.derive_workers(4, 64 * gib) == 9  # CPU-bound: 2*4+1
    assert resources.derive_workers(8, 2 * gib) == 5  # memory-bound: 0.8*2 GiB / 324 MiB
    assert resources.derive_workers(0.5, 256 * 1024**2) == 1  # never below one
