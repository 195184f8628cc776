"""One way to do each thing in backups/: the off-site engine is chosen in one place.

Outside backups/offsite/ no module may branch on an engine: compare a string naming one
(`== "restic"`, `in ("s3", "restic")`, `match`, `"s3" if ... else`), list the engines
(`Literal[...]`), test a text for an engine's scheme (`.startswith("restic:")`), read
BACKUP_OFFSITE itself, or import an engine's module; they ask `offsite.engine(settings)` /
`offsite.open_source` instead (or core.settings.OFFSITE_ENGINES for their names). Fast tier:
reads the source.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

import odoo_saas_tools
from odoo_saas_tools.backups import offsite
from odoo_saas_tools.core.settings import OFFSITE_ENGINES

pytestmark = pytest.mark.unit  # pure code: the unit tier

PACKAGE = Path(odoo_saas_tools.__file__).parent
OFFSITE = PACKAGE / "backups" / "offsite"
SETTINGS = PACKAGE / "core" / "settings.py"
ODOO_ADDONS = PACKAGE / "odoo_addons"
NAMES = frozenset(OFFSITE_ENGINES)
SCHEMES = tuple(offsite._module(name).SCHEME for name in OFFSITE_ENGINES)
TEXT_TESTS = {"startswith", "endswith", "removeprefix", "removesuffix"}


def _strings(node: ast.AST) -> list[str]:
    """The string constants node is, or holds (a tuple, list or set of them)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for elt in node.elts for s in _strings(elt)]
    return []


def _names_engine(text: str) -> bool:
    """An engine's name ("restic", "s3:"), or a text in its scheme ("restic:acme", "s3://b/k")."""
    return text.rstrip(":/") in NAMES or text.startswith(SCHEMES)


def engine_branches(source: str, *, settings_module: bool = False) -> list[str]:
    """Where source decides something by an engine's name (line: what), outside the engines."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                found += [f"{line}: compares {s!r}" for s in _strings(operand) if _names_engine(s)]
        elif isinstance(node, ast.match_case):
            for sub in ast.walk(node.pattern):
                if isinstance(sub, ast.MatchValue):
                    found += [f"matches {s!r}" for s in _strings(sub.value) if _names_engine(s)]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in TEXT_TESTS
        ):
            for arg in node.args:
                found += [
                    f"{line}: .{node.func.attr}({s!r})" for s in _strings(arg) if _names_engine(s)
                ]
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "Literal"
        ):
            found += [f"{line}: lists {s!r}" for s in _strings(node.slice) if _names_engine(s)]
        elif isinstance(node, ast.IfExp):
            for branch in (node.body, node.orelse):
                found += [f"{line}: chooses {s!r}" for s in _strings(branch) if _names_engine(s)]
        elif (
            isinstance(node, ast.Attribute)
            and node.attr == "backup_offsite"
            and not settings_module
        ):
            found.append(f"{line}: reads BACKUP_OFFSITE itself")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found += [f"{line}: imports {m}" for m in _engine_imports(node)]
    return found


def _engine_imports(node: ast.Import | ast.ImportFrom) -> list[str]:
    """Modules under backups.offsite (an engine, its helpers) that node imports."""
    package = "odoo_saas_tools.backups.offsite"
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith(package + ".")]
    if node.level or not node.module:
        return []
    if node.module.startswith(package + "."):
        return [node.module]
    if node.module == package:  # the package itself is the interface; its modules are not
        return [f"{package}.{a.name}" for a in node.names if (OFFSITE / f"{a.name}.py").exists()]
    if node.module == "odoo_saas_tools.backups":
        return [f"odoo_saas_tools.backups.{a.name}" for a in node.names if a.name in NAMES]
    return []


def package_files(root: Path) -> list[Path]:
    return [
        p
        for p in sorted(root.rglob("*.py"))
        if ODOO_ADDONS not in p.parents and OFFSITE not in p.parents and p.parent != OFFSITE
    ]


@pytest.mark.parametrize(
    "snippet",
    [
        'if settings.backup_offsite == "restic":\n    pass',
        'use_restic = "restic" == settings.offsite',
        'if settings.offsite in ("s3", "restic"):\n    pass',
        'if args.file.startswith("restic:"):\n    pass',
        'local = not text.startswith("s3://")',
        'match settings.offsite:\n    case "s3":\n        pass',
        'where = "restic" if "snapshot_id" in row else "s3"',
        'where: Literal["local", "s3", "restic"]',
        "from odoo_saas_tools.backups import restic",
        "from odoo_saas_tools.backups.offsite import s3",
        "import odoo_saas_tools.backups.offsite.restic_repo",
        "from odoo_saas_tools.backups.offsite.s3_bucket import upload",
    ],
)
def test_the_check_sees_a_branch_on_an_engine(snippet: str):
    """The check itself: each way the code used to branch on restic vs S3 is caught."""
    assert engine_branches(textwrap.dedent(snippet)), snippet


def test_the_check_lets_the_interface_and_other_strings_pass():
    ok = """
from odoo_saas_tools.backups import offsite
from odoo_saas_tools.backups.offsite import Shipment
engine = offsite.engine(settings)
if engine is not None and kind == "zip" and name.startswith("odoo_saas_"):
    pass
"""
    assert engine_branches(ok) == []


@pytest.mark.parametrize("path", package_files(PACKAGE), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_outside_the_engines_branches_on_one(path: Path):
    found = engine_branches(path.read_text(), settings_module=path == SETTINGS)
    assert not found, (
        f"{path.relative_to(PACKAGE)} decides by an off-site engine's name ({'; '.join(found)}): "
        "ask backups/offsite (engine(), open_source()) so a new engine is one module there"
    )
