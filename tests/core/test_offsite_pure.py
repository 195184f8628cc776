"""Fast tier: the off-site engines' pure parts, no restic run, no S3 server, no PostgreSQL.

Which engine the settings choose (one factory), which engine a restore source belongs to, and
what restic is told: its arguments and environment (secrets only in the environment).
"""

from __future__ import annotations

import inspect
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from odoo_saas_tools.backups import offsite
from odoo_saas_tools.backups.offsite import restic, restic_repo
from odoo_saas_tools.backups.offsite import s3 as s3_engine
from odoo_saas_tools.backups.retention import Policy
from odoo_saas_tools.core import execute
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import OFFSITE_ENGINES, Settings

pytestmark = pytest.mark.unit  # pure code: the unit tier

PASSWORD = "restic-key-3d9c1b0a"
S3_SECRET = "s3-secret-77f0e1"
RESTIC_ENV = {
    "AWS_S3_BUCKET": "acme-backups",
    "AWS_SECRET_ACCESS_KEY": S3_SECRET,
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "BACKUP_OFFSITE": "restic",
    "BACKUP_ENCRYPTION_PASSWORD": PASSWORD,
}


# --- engine selection ------------------------------------------------------------------------
def test_no_bucket_means_no_offsite_engine():
    settings = Settings.from_env({})
    assert settings.offsite is None
    assert offsite.engine(settings) is None


def test_the_bucket_alone_chooses_s3_and_backup_offsite_chooses_restic():
    s3 = offsite.engine(Settings.from_env({"AWS_S3_BUCKET": "acme-backups"}))
    assert isinstance(s3, s3_engine.Engine) and s3.name == "s3"
    settings = Settings.from_env(RESTIC_ENV)
    assert settings.offsite == "restic"  # not "s3 enabled": one name, one engine
    engine = offsite.engine(settings)
    assert isinstance(engine, restic.Engine) and engine.name == "restic"


@pytest.mark.parametrize("missing", ["BACKUP_ENCRYPTION_PASSWORD", "AWS_S3_BUCKET"])
def test_an_engine_missing_what_it_needs_is_refused_at_start(missing):
    with pytest.raises(ConfigError, match=f"BACKUP_OFFSITE=restic needs {missing}"):
        Settings.from_env({**RESTIC_ENV, missing: ""})


def test_every_engine_named_in_the_settings_is_one_module_with_the_whole_interface():
    protocol = {
        name
        for name, _ in inspect.getmembers(offsite.Engine, inspect.isfunction)
        if not name.startswith("_")
    }
    assert {"back_up", "retain", "maintenance", "listing", "open"} <= protocol
    for name in OFFSITE_ENGINES:
        module = offsite._module(name)
        assert module.__name__ == f"odoo_saas_tools.backups.offsite.{name}"
        assert module.Engine.name == name
        assert protocol <= set(dir(module.Engine)), (
            f"{name} lacks {protocol - set(dir(module.Engine))}"
        )
        assert module.SCHEME and callable(module.open_source)


def test_a_source_belongs_to_the_engine_whose_scheme_it_starts_with(tmp_path):
    settings = Settings.from_env({})  # no engine configured: sources are still read
    # what would download the object or resolve the snapshot, not yet entered
    opened = offsite.open_source(settings, "s3://bucket/acme/acme_20261126T171800Z.zip")
    assert getattr(opened, "func", None) is s3_engine.open_source.__wrapped__  # type: ignore[attr-defined]
    opened = offsite.open_source(settings, "restic:acme@3f2a9c1d")
    assert getattr(opened, "func", None) is restic.open_source.__wrapped__  # type: ignore[attr-defined]
    assert offsite.open_source(settings, str(tmp_path / "acme.zip")) is None


def test_restic_sources_parse_without_running_restic():
    settings = Settings.from_env({**RESTIC_ENV, "BACKUP_TZ": "Europe/Brussels"})
    assert restic.parse_source("restic:acme") == restic.Wanted("acme")
    assert restic.parse_source("restic:acme@3f2a9c1d") == restic.Wanted("acme", "3f2a9c1d")
    at = restic.parse_source("restic:acme@2026-11-20T06:00", settings)
    assert at is not None and at.at is not None and at.at.utcoffset().total_seconds() == 3600
    assert restic.parse_source("/backups/acme.zip") is None
    for bad in ("restic:", "restic:acme@", "restic:a/b", "restic:acme@yesterday"):
        with pytest.raises(ConfigError):
            restic.parse_source(bad)


# --- what restic is told ---------------------------------------------------------------------
def test_forget_arguments_follow_the_policy_and_stay_on_one_tenant():
    assert restic_repo.tenant_forget_args("acme", Policy(retention_days=7)) == [
        "forget",
        "--tag",
        "tenant:acme",
        "--group-by",
        "",
        "--host",
        "odoo-saas",
        "--keep-last",
        "1",
        "--keep-within",
        "7d",
        "--json",
    ]
    gfs = Policy(retention_days=7, keep_daily=7, keep_weekly=0, keep_monthly=3)
    args = restic_repo.tenant_forget_args("acme", gfs, dry_run=True)
    keep = ["--keep-last", "1", "--keep-daily", "7", "--keep-monthly", "3"]
    assert args[7:] == [*keep, "--dry-run", "--json"]  # no weekly: 0 keeps none


def test_backup_arguments_tag_the_tenant_and_its_version_and_write_the_time_in_backup_tz():
    paths = [Path("/data/.restic-stage/acme"), Path("/data/filestore/acme")]
    assert restic_repo.backup_args("acme", "19.0", paths) == [
        "backup",
        "--host",
        "odoo-saas",
        "--tag",
        "tenant:acme,odoo:19.0",
        "--json",
        "/data/.restic-stage/acme",
        "/data/filestore/acme",
    ]
    when = datetime(2026, 11, 20, 5, 0, tzinfo=timezone.utc)
    args = restic_repo.backup_args("acme", "19.0", paths, when=when, tz="Europe/Brussels")
    assert args[5:7] == ["--time", "2026-11-20 06:00:00"]
    assert restic_repo.snapshots_args("acme") == ["snapshots", "--tag", "tenant:acme", "--json"]
    assert restic_repo.check_args("5%") == ["check", "--read-data-subset=5%"]


def test_secrets_travel_in_restics_environment_never_its_arguments():
    settings = Settings.from_env(RESTIC_ENV)
    env = restic_repo.environment(settings)
    assert env["RESTIC_PASSWORD"] == PASSWORD and env["AWS_SECRET_ACCESS_KEY"] == S3_SECRET
    assert env["RESTIC_REPOSITORY"] == "s3:s3.amazonaws.com/acme-backups/odoo-backups/restic"
    argv = [
        *restic_repo.tenant_forget_args("acme", Policy()),
        *restic_repo.backup_args("acme", "19.0", [Path("/data")]),
        *restic_repo.snapshots_args("acme"),
        *restic_repo.check_args(),
    ]
    assert not [a for a in argv if PASSWORD in a or S3_SECRET in a]


def test_a_failing_restic_says_one_line_without_its_secrets():
    settings = Settings.from_env(RESTIC_ENV)
    stderr = f"Fatal: unable to open config: s3 said {S3_SECRET} is bad\n".encode()
    failed = subprocess.CompletedProcess(["restic"], 1, b"", stderr)
    message = restic_repo._failure(settings, ["snapshots"], failed)
    assert message.startswith("restic exited 1: Fatal") and "\n" not in message
    assert S3_SECRET not in message and execute.REDACTED in message
    wrong = subprocess.CompletedProcess(["restic"], 1, b"", b"Fatal: wrong password or no key\n")
    assert "BACKUP_ENCRYPTION_PASSWORD does not open" in restic_repo._failure(settings, [], wrong)
