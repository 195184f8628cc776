"""Addon trees on disk: broken manifests, duplicates, other Odoo versions, skipped directories."""

from __future__ import annotations

from pathlib import Path

from odoo_saas_tools.preflight import addons_check as addons
from odoo_saas_tools.preflight.findings import ERROR, OK, WARNING, Report
from odoo_saas_tools.runtime import render
from tests.preflight.conftest import settings_of, write_addon


def run_addons(env: dict[str, str], odoo_dirs: list[str] | None = None) -> Report:
    s = settings_of(env)
    report = Report()
    addons.check_addons(s, addons.resolve(s, odoo_dirs), report)
    return report


def by_item(report: Report) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in report.findings:
        out.setdefault(f.item, []).append(f)
    return out


def test_broken_manifest_is_an_error_naming_file_and_line(saas_env, addons_dir):
    write_addon(addons_dir, "good_one")
    write_addon(addons_dir, "broken_one", "{'name': 'x',\n 'version': '19.0.1.0.0'\n")
    write_addon(addons_dir, "code_in_manifest", "{'name': __import__('os').getcwd()}")
    write_addon(addons_dir, "list_manifest", "['not', 'a', 'dict']")
    report = run_addons(saas_env)
    items = by_item(report)
    (broken,) = items["broken_one"]
    assert broken.status == ERROR
    assert str(addons_dir / "broken_one" / "__manifest__.py") in broken.message
    assert "line" in broken.message
    (code,) = items["code_in_manifest"]
    assert code.status == ERROR and "not a plain literal" in code.message
    (listed,) = items["list_manifest"]
    assert listed.status == ERROR and "not a dict" in listed.message
    assert "good_one" not in items
    assert report.exit_code == 1
    # never executed, never rewritten
    assert (addons_dir / "broken_one" / "__manifest__.py").read_text().startswith("{'name': 'x',")


def test_duplicate_addon_reports_the_winner_first_on_the_path(saas_env, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    write_addon(first, "dup_mod")
    write_addon(second, "dup_mod")
    write_addon(second, "other_mod")
    env = {**saas_env, "ODOO_EXTRA_ADDONS": f"{first},{second}"}
    report = run_addons(env)
    (dup,) = by_item(report)["dup_mod"]
    assert dup.status == WARNING
    assert f"{first / 'dup_mod'} wins" in dup.message
    assert str(second) in dup.message
    assert report.exit_code == 0  # warnings do not stop a start


def test_extra_addon_shadowed_by_odoos_own_directory(saas_env, addons_dir, tmp_path):
    odoo_core = tmp_path / "odoo_core"
    write_addon(odoo_core, "web")
    write_addon(addons_dir, "web")
    report = run_addons(saas_env, [str(odoo_core), str(addons_dir)])
    (web,) = by_item(report)["web"]
    assert web.status == WARNING and f"{odoo_core / 'web'} wins" in web.message


def test_addon_for_another_odoo_version_is_reported(saas_env, addons_dir):
    write_addon(addons_dir, "old_mod", "{'name': 'old', 'version': '18.0.1.2.0'}")
    write_addon(addons_dir, "short_ver", "{'name': 's', 'version': '1.2'}")  # Odoo prefixes 19.0
    write_addon(addons_dir, "off_mod", "{'version': '17.0.1.0.0', 'installable': False}")
    write_addon(addons_dir, "bad_ver", "{'version': 'one.two'}")
    items = by_item(run_addons(saas_env))
    (old,) = items["old_mod"]
    assert old.status == WARNING and "for Odoo 18.0" in old.message
    assert "short_ver" not in items and "off_mod" not in items
    assert "not valid" in items["bad_ver"][0].message


def test_directory_odoo_would_skip(saas_env, addons_dir, tmp_path):
    write_addon(addons_dir, "no_init", init=False)
    missing = tmp_path / "missing"
    env = {**saas_env, "ODOO_EXTRA_ADDONS": f"{addons_dir},{missing}"}
    items = by_item(run_addons(env))
    assert items[str(missing)][0].status == WARNING
    assert "Odoo skips this directory" in items[str(addons_dir)][0].message
    assert "no __init__.py" in items["no_init"][0].message


def test_clean_tree_is_ok(saas_env, addons_dir):
    for name in ("a_mod", "b_mod"):
        write_addon(addons_dir, name)
    report = run_addons(saas_env)
    assert {f.status for f in report.findings} == {OK}  # odoo-saas's own addons, and these
    assert "2 addon(s)" in by_item(report)[str(addons_dir)][0].message


def test_module_paths_first_wins(saas_env, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    write_addon(first, "m")
    write_addon(second, "m")
    write_addon(second, "n")
    s = settings_of({**saas_env, "ODOO_EXTRA_ADDONS": f"{first},{second}"})
    paths = addons.module_paths(addons.resolve(s, None))
    bundled = {
        p.name: p for p in render.BUNDLED_ADDONS.iterdir() if (p / "__manifest__.py").is_file()
    }
    assert paths == {**bundled, "m": first / "m", "n": second / "n"}
    assert isinstance(paths["m"], Path)


def test_missing_program_of_an_addon_is_a_warning(saas_env, addons_dir):
    manifest = (
        "{'version': '19.0.1.0.0', 'external_dependencies': {'bin': ['sh', 'no-such-prog-pf']}}"
    )
    write_addon(addons_dir, "needs_bin", manifest)
    (finding,) = by_item(run_addons(saas_env))["needs_bin"]
    assert finding.status == WARNING and "'no-such-prog-pf'" in finding.message
