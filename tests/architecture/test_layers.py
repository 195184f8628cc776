"""The package's shape: one folder per domain, imports only downward, commands stay thin.

Fast tier: no service needed. The layer order is the one docs/architecture.md describes.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import odoo_saas_tools

PACKAGE = Path(odoo_saas_tools.__file__).parent
# Lower ranks never import higher ones; equal ranks never import each other.
LAYERS = {
    "core": 0,
    "postgres": 1,
    "runtime": 1,
    "odoo": 2,
    "catalog": 2,
    "tenants": 3,
    "backups": 4,
    "sessions": 4,
    "observability": 5,
    "preflight": 5,
    "domains": 5,
    "container": 6,
    "control": 6,
    "api": 7,
    "commands": 8,
    "cli": 9,
    "__main__": 10,
}
# The Odoo addon runs inside Odoo's Python, not as part of this package's layers.
ODOO_ADDONS = PACKAGE / "odoo_addons"


def python_files() -> list[Path]:
    return [
        p for p in PACKAGE.rglob("*.py") if ODOO_ADDONS not in p.parents and p.name != "__init__.py"
    ] + [p for p in PACKAGE.rglob("__init__.py") if ODOO_ADDONS not in p.parents]


def domain_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else rel.stem


def imported_domains(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "odoo_saas_tools":
                names = [f"odoo_saas_tools.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "odoo_saas_tools" and len(parts) > 1 and parts[1] != "__version__":
                found.add(parts[1])
    return found


@pytest.mark.unit
def test_every_module_lives_in_a_known_domain():
    top_level = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert top_level == {"cli", "__main__"}, f"modules outside a domain folder: {top_level}"
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    unknown = folders - {"templates", "odoo_addons"} - set(LAYERS)
    assert not unknown, f"unknown domain folders: {unknown}"


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
@pytest.mark.unit
def test_imports_only_go_down(path: Path):
    mine = domain_of(path)
    for other in imported_domains(path) - {mine}:
        assert other in LAYERS, f"{path.name} imports unknown odoo_saas_tools.{other}"
        assert LAYERS[other] < LAYERS[mine], (
            f"{path.relative_to(PACKAGE)} ({mine}) imports {other}: "
            "dependencies go down only (see docs/architecture.md)"
        )


def all_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages([str(PACKAGE)], "odoo_saas_tools."):
        if ".odoo_addons" not in info.name:
            names.append(info.name)
    return names


def test_each_module_imports_alone():
    """A fresh interpreter per module: an import loop shows up as an ImportError there."""

    def try_import(name: str) -> tuple[str, subprocess.CompletedProcess]:
        proc = subprocess.run(
            [sys.executable, "-c", f"import {name}"], capture_output=True, text=True, check=False
        )
        return name, proc

    names = [n for n in all_modules() if not n.endswith("__main__")]
    assert len(names) > 50
    with ThreadPoolExecutor(max_workers=4) as pool:
        for name, proc in pool.map(try_import, names):
            assert proc.returncode == 0, f"{name} does not import alone:\n{proc.stderr[-800:]}"


@pytest.mark.unit
def test_no_domain_module_imports_commands():
    for path in python_files():
        if domain_of(path) not in ("commands", "cli", "__main__"):
            assert "commands" not in imported_domains(path), path


@pytest.mark.unit
def test_command_modules_are_named_after_their_command():
    from odoo_saas_tools.cli import build_parser

    build_parser()  # raises when a module registers a command word other than its name
    commands = PACKAGE / "commands"
    for path in commands.rglob("*.py"):
        if path.name.startswith("_"):
            continue
        module = importlib.import_module(
            "odoo_saas_tools." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        )
        assert hasattr(module, "register"), f"{path} registers no command"
