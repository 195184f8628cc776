"""The backup-scheduler program's start-up errors, through the CLI. Its loop, with an injected
clock (minutes pass instantly, no service): tests/unit/test_scheduler.py."""

from __future__ import annotations

import pytest

from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import Settings
from tests.support.cli import run_cli


def test_invalid_schedule_is_a_start_up_error_naming_the_variable(saas_env):
    proc = run_cli({**saas_env, "BACKUP_SCHEDULE": "every 5 minutes"}, "backup", "schedule")
    assert proc.returncode == 2
    assert "BACKUP_SCHEDULE" in proc.stderr and "cron" in proc.stderr
    with pytest.raises(ConfigError, match="BACKUP_TZ"):
        Settings.from_env({**saas_env, "BACKUP_TZ": "Mars/Olympus"})


def test_unusable_backup_dir_is_one_clear_line(saas_env, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = {**saas_env, "BACKUP_DIR": str(blocker / "backups")}
    for args in (("backup", "schedule"), ("backup", "run")):
        proc = run_cli(env, *args, timeout=60)
        assert proc.returncode == 1, proc.stderr
        assert "BACKUP_DIR" in proc.stderr and "Traceback" not in proc.stderr
