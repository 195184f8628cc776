"""The plans file (ODOO_SAAS_PLANS_FILE): read and validated in one place, every mistake one
line naming the plan and the field; no file means one unlimited plan, `default`."""

from __future__ import annotations

import os

import pytest

from odoo_saas_tools.control import plans
from odoo_saas_tools.control.plans import Plan
from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import Settings
from tests.support.cli import run_cli

GOOD = """
plans:
  starter:
    modules: [crm, sale_management, crm]
    lang: fr_BE
    country: be
    max_users: 3
    max_storage_mb: 2048
    suspend_over_storage: true
    trial_days: 14
  es:
    lang: es_419
  empty:
"""


def test_a_good_file_gives_every_field_typed_and_default_besides() -> None:
    found = plans.parse(GOOD, "plans.yml")
    assert found["starter"] == Plan(
        "starter",
        modules=("crm", "sale_management"),
        lang="fr_BE",
        country="BE",
        max_users=3,
        max_storage_mb=2048,
        trial_days=14,
        suspend_over_storage=True,
    )
    assert found["es"].lang == "es_419"
    assert found["empty"] == Plan("empty")
    assert found["default"] == Plan("default")  # not declared: the unlimited one


def test_a_declared_default_is_the_files() -> None:
    found = plans.parse("plans:\n  default:\n    max_users: 5\n", "p")
    assert found == {"default": Plan("default", max_users=5)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plans: [a, b]", "expected one key, `plans:`"),
        ("plan:\n  a: {}\n", "expected one key, `plans:`"),
        ("plans: {}\n", "declares no plan"),
        ("plans:\n  a: {\n", "not valid YAML (line"),
        ("plans:\n  Starter: {}\n", "plan name 'Starter' is not valid"),
        ("plans:\n  a: {}\n  a: {}\n", "line 3: 'a' is given twice"),
        ("plans:\n  a: 3\n", "plan a: expected a mapping of fields"),
        ("plans:\n  a:\n    max_user: 3\n", "plan a: unknown field 'max_user'"),
        ("plans:\n  a:\n    max_users: three\n", "plan a: max_users must be a whole number"),
        ("plans:\n  a:\n    max_users: 0\n", "plan a: max_users must be a whole number"),
        ("plans:\n  a:\n    max_users: true\n", "plan a: max_users must be a whole number"),
        ("plans:\n  a:\n    max_storage_mb: 1.5\n", "plan a: max_storage_mb must be a whole"),
        ("plans:\n  a:\n    trial_days: -1\n", "plan a: trial_days must be a whole number"),
        ("plans:\n  a:\n    modules: crm\n", "plan a: modules must be a list of module names"),
        ("plans:\n  a:\n    modules: [../x]\n", "plan a: modules must be a list of module"),
        ("plans:\n  a:\n    lang: french\n", "plan a: lang 'french' is not valid"),
        ("plans:\n  a:\n    country: BEL\n", "plan a: country 'BEL' is not valid"),
        ("plans:\n  a:\n    suspend_over_storage: 1\n", "plan a: suspend_over_storage must be"),
        (
            "plans:\n  a:\n    suspend_over_storage: true\n",
            "plan a: suspend_over_storage needs max_storage_mb",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_plan_and_field(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        plans.parse(text, "plans.yml")
    message = str(raised.value)
    assert message.startswith("plans.yml: ") and "\n" not in message
    assert expected in message


def test_without_a_file_there_is_one_plan_without_limits(cenv) -> None:
    settings = Settings.from_env({**cenv, "ODOO_SAAS_PLANS_FILE": ""})
    assert plans.available(settings) == {"default": Plan("default")}
    assert plans.get(settings, "default").max_users is None
    assert plans.get(settings, None) == Plan("default")  # a plan left out: the default
    with pytest.raises(ConfigError, match=r"unknown plan 'gold' \(plans: default\)"):
        plans.get(settings, "gold")


def test_an_edited_file_is_read_again(csettings, tmp_path) -> None:
    path = tmp_path / "plans.yml"
    assert plans.get(csettings, "small").max_users == 2
    path.write_text("plans:\n  small:\n    max_users: 7\n")
    os.utime(path, ns=(1, 1))  # a new mtime even within the file system's clock tick
    assert plans.get(csettings, "small").max_users == 7
    path.write_text("plans:\n  small:\n    max_users: oops\n")
    with pytest.raises(ConfigError, match="plan small: max_users"):
        plans.available(csettings)


def test_the_cli_checks_the_file_and_lists_its_plans(cenv, tmp_path) -> None:
    listed = run_cli(cenv, "tenant", "plans")
    assert listed.returncode == 0, listed.stderr
    assert "small: 2 users, 16 MB; modules -" in listed.stdout
    assert "strict: any users, 16 MB, suspended over storage" in listed.stdout
    (tmp_path / "plans.yml").write_text("plans:\n  a:\n    colour: red\n")
    bad = run_cli(cenv, "tenant", "plans")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"odoo-saas: error: ODOO_SAAS_PLANS_FILE {tmp_path / 'plans.yml'}: plan a: unknown "
        "field 'colour' (fields: modules, lang, country, max_users, max_storage_mb, trial_days, "
        "suspend_over_storage)"
    ]
    missing = run_cli(
        {**cenv, "ODOO_SAAS_PLANS_FILE": str(tmp_path / "nope.yml")}, "tenant", "plans"
    )
    assert missing.returncode == 2 and "No such file or directory" in missing.stderr
