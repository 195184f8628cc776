"""Python requirements of addons: listed when missing, installed from a local wheel when fixing."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from odoo_saas_tools.preflight.pydeps import dist_name, index_for_log, requirement_lines
from tests.preflight.conftest import write_addon
from tests.support.cli import run_cli

PKG = "odoo-saas-pf-tinydep"
MODULE = "odoo_saas_pf_tinydep"


def build_wheel(directory: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel written by hand: no build backend, no network needed."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": "VALUE = 42\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = "".join(f"{path},," + "\n" for path in [*files, f"{dist_info}/RECORD"])
    files[f"{dist_info}/RECORD"] = record
    wheel = directory / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


@pytest.fixture(scope="module")
def local_index(tmp_path_factory) -> Path:
    """A PEP 503 index on disk (file://) holding one tiny wheel built here."""
    base = tmp_path_factory.mktemp("index")
    wheel = build_wheel(base, PKG, "1.2.0")
    simple = base / "simple" / PKG
    simple.mkdir(parents=True)
    (simple / "index.html").write_text(
        f'<html><body><a href="{wheel.as_uri()}">{wheel.name}</a></body></html>\n'
    )
    return base / "simple"


def findings(proc) -> dict[str, list[dict]]:
    data = json.loads(proc.stdout)
    out: dict[str, list[dict]] = {}
    for f in data["findings"]:
        out.setdefault(f["item"], []).append(f)
    return out


def test_missing_dependency_is_listed_with_the_addons_needing_it(no_odoo_env, addons_dir):
    manifest = (
        "{'name': 'a', 'version': '19.0.1.0.0', 'external_dependencies': "
        f"{{'python': ['{PKG}>=1.0', 'json']}}}}"
    )
    write_addon(addons_dir, "needs_tiny", manifest)
    write_addon(addons_dir, "also_tiny", files={"requirements.txt": f"# c\n{PKG}\n-e ./x\n"})
    proc = run_cli(no_odoo_env, "preflight", "--json")
    assert proc.returncode == 1, proc.stderr
    items = findings(proc)
    (spec_finding,) = items[f"{PKG}>=1.0"]
    assert spec_finding["status"] == "error"
    assert "missing; needed by needs_tiny" in spec_finding["message"]
    assert "ODOO_AUTO_PATCH_DEPS=true" in spec_finding["message"]
    assert "needed by also_tiny" in items[PKG][0]["message"]
    assert "json" not in items  # an import name Odoo accepts as fallback
    assert items["-e ./x"][0]["status"] == "warning"
    assert not Path(no_odoo_env["ODOO_DEPS_DIR"]).exists()


def test_fix_installs_from_the_configured_index_into_deps_dir(no_odoo_env, addons_dir, local_index):
    manifest = (
        "{'name': 'a', 'version': '19.0.1.0.0', 'external_dependencies': "
        f"{{'python': ['{PKG}>=1.0']}}}}"
    )
    write_addon(addons_dir, "needs_tiny", manifest)
    env = {
        **no_odoo_env,
        "ODOO_AUTO_PATCH_DEPS": "true",
        "PIP_INDEX_URL": local_index.as_uri(),
    }
    # without --fix the command only reports
    assert run_cli(env, "preflight", "--json").returncode == 1
    proc = run_cli(env, "preflight", "--fix", "--json", timeout=300)
    items = findings(proc)
    assert items[f"{PKG}>=1.0"][0]["status"] == "ok", proc.stdout + proc.stderr
    assert "installed into" in items[f"{PKG}>=1.0"][0]["message"]
    deps = Path(env["ODOO_DEPS_DIR"])
    assert (deps / MODULE / "__init__.py").is_file()
    assert "installing missing Python packages" in proc.stderr
    # Odoo gets the directory on its PYTHONPATH: the next check finds the package there
    again = run_cli(env, "preflight", "--json")
    items = findings(again)
    assert f"{PKG}>=1.0" not in items
    (python_ok,) = [f for f in json.loads(again.stdout)["findings"] if f["check"] == "python"]
    assert python_ok["status"] == "ok" and "1 requirement(s)" in python_ok["message"]
    assert json.loads(again.stdout)["errors"] == 1  # only "Odoo not found" remains
    assert {f["check"] for f in json.loads(again.stdout)["findings"] if f["status"] == "error"} == {
        "odoo"
    }


def test_failed_install_is_an_error(no_odoo_env, addons_dir, tmp_path):
    write_addon(addons_dir, "needs_tiny", files={"requirements.txt": f"{PKG}==9.9\n"})
    empty = tmp_path / "empty-index"
    empty.mkdir()
    env = {**no_odoo_env, "ODOO_AUTO_PATCH_DEPS": "true", "PIP_INDEX_URL": empty.as_uri()}
    proc = run_cli(env, "preflight", "--fix", "--json", timeout=300)
    items = findings(proc)
    assert items["pip"][0]["status"] == "error"
    assert items[f"{PKG}==9.9"][0]["status"] == "error"


def test_requirement_parsing_helpers(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("# comment\nfoo>=1 # why\n\nBar_Baz[x]==2; python_version>'3'\n-r other.txt\n")
    specs, unchecked = requirement_lines(req)
    assert specs == ["foo>=1", "Bar_Baz[x]==2; python_version>'3'"]
    assert unchecked == ["-r other.txt"]
    assert dist_name("Bar_Baz[x]==2") == "bar-baz"
    assert index_for_log("https://user:tok@pypi.example/simple") == "https://pypi.example/simple"
