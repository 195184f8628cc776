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


def sdist_index(base: Path, name: str, marker: Path) -> Path:
    """An index holding only an sdist whose setup.py writes the environment it sees to marker."""
    import io
    import tarfile

    setup = (
        f"import os, pathlib\npathlib.Path({str(marker)!r}).write_text(repr(dict(os.environ)))\n"
    )
    base.mkdir(parents=True, exist_ok=True)
    sdist = base / f"{name}-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        for path, text in {f"{name}-1.0/setup.py": setup, f"{name}-1.0/PKG-INFO": ""}.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    simple = base / "simple" / name
    simple.mkdir(parents=True)
    (simple / "index.html").write_text(f'<a href="{sdist.as_uri()}">{sdist.name}</a>\n')
    return base / "simple"


def test_fix_never_runs_a_package_build_nor_shows_it_secrets(no_odoo_env, addons_dir, tmp_path):
    """Issue 11 item 13: a build backend run by `preflight --fix` wrote the AWS secret, master
    and DB passwords to a file (pip had the full environment and built sdists)."""
    marker = tmp_path / "build-saw"
    index = sdist_index(tmp_path / "idx", "odoo-saas-pf-evil", marker)
    write_addon(addons_dir, "needs_evil", files={"requirements.txt": "odoo-saas-pf-evil\n"})
    env = {
        **no_odoo_env,
        "ODOO_AUTO_PATCH_DEPS": "true",
        "PIP_INDEX_URL": index.as_uri(),
        "AWS_SECRET_ACCESS_KEY": "aws-secret-never-seen-by-pip",
    }
    proc = run_cli(env, "preflight", "--fix", "--json", timeout=300)
    assert not marker.exists(), marker.read_text()[:200] if marker.exists() else ""
    assert findings(proc)["odoo-saas-pf-evil"][0]["status"] == "error"


def test_fix_refuses_url_and_path_requirements(no_odoo_env, addons_dir, local_index):
    """Issue 11 item 13: `name @ file:///...` requirements from a manifest were installed."""
    from odoo_saas_tools.preflight.pydeps import is_plain_requirement

    assert is_plain_requirement("foo[x]>=1.2; python_version>'3'")
    for bad in ("foo @ file:///tmp/x", "https://evil/x.whl", "./local", "/abs/path"):
        assert not is_plain_requirement(bad)
    manifest = (
        "{'name': 'a', 'version': '19.0.1.0.0', 'external_dependencies': "
        f"{{'python': ['{PKG} @ file:///tmp/odoo-saas-evil.whl']}}}}"
    )
    write_addon(addons_dir, "needs_url", manifest)
    env = {**no_odoo_env, "ODOO_AUTO_PATCH_DEPS": "true", "PIP_INDEX_URL": local_index.as_uri()}
    proc = run_cli(env, "preflight", "--fix", "--json", timeout=300)
    assert "never URLs or paths" in proc.stdout
    assert not (Path(env["ODOO_DEPS_DIR"]) / MODULE).exists()


def test_root_never_imports_from_a_deps_dir_the_runtime_user_can_write(tmp_path, saas_env):
    """Issue 11 item 11: a `json.py` planted in ODOO_DEPS_DIR ran as uid 0 in root's probes."""
    import os
    import subprocess
    import sys

    from odoo_saas_tools.core.settings import Settings
    from odoo_saas_tools.odoo.environment import odoo_environment

    if os.geteuid() != 0:
        pytest.skip("needs root: the attack is on root's import path")
    deps = tmp_path / "deps"
    deps.mkdir()
    marker = tmp_path / "ran-as-root"
    (deps / "json.py").write_text(f"open({str(marker)!r}, 'w').write('pwned')\n")
    os.chown(deps, 65534, 65534)  # the runtime user's directory
    env = odoo_environment(Settings.from_env({**saas_env, "ODOO_DEPS_DIR": str(deps)}))
    assert "PYTHONPATH" not in env
    subprocess.run([sys.executable, "-c", "import json"], env=env, check=True)
    assert not marker.exists()
    os.chown(deps, 0, 0)  # root's own directory, not writable by others: trusted
    env = odoo_environment(Settings.from_env({**saas_env, "ODOO_DEPS_DIR": str(deps)}))
    assert env["PYTHONPATH"] == str(deps)
