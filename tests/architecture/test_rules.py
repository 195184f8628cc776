"""The "one way" rules (issue 27), checked on the source: every subprocess through core.execute,
every file lock through core.files.file_lock, no function a reader cannot hold (over 80 lines).

Fast tier: the source is parsed, nothing is imported or run. An exception is listed below with
its reason; a listed exception that is no longer needed fails too, so the list only shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import odoo_saas_tools

pytestmark = pytest.mark.unit  # pure code: the unit tier

PACKAGE = Path(odoo_saas_tools.__file__).parent
CORE = PACKAGE / "core"

# Modules that run programs or lock files themselves are the core's: execute, files.
FORBIDDEN_IMPORTS = {
    "subprocess": "run programs through core.execute (run, popen + wait_checked)",
    "fcntl": "lock files through core.files.file_lock",
}
# Other ways to start a program than subprocess.
FORBIDDEN_CALLS = {"system", "popen", "posix_spawn", "posix_spawnp"}
FORBIDDEN_PREFIXES = ("spawn", "exec")

# (module, what it uses) -> why it may.
SANCTIONED = {
    ("container/start.py", "os.exec"): (
        "the entrypoint becomes supervisord or the command it was given: a process replaced, "
        "no child to wait for"
    ),
}

MAX_FUNCTION_LINES = 80
# Functions over MAX_FUNCTION_LINES, each with its reason (none).
LONG_FUNCTIONS: dict[str, str] = {}


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def uses(path: Path) -> set[str]:
    """What path uses of the forbidden: module names, and "os.exec"/"os.spawn"/"os.system"..."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names} & FORBIDDEN_IMPORTS.keys()
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in FORBIDDEN_IMPORTS:
                found.add(node.module.split(".")[0])
            if node.module == "os":
                found |= {_os_use(a.name) for a in node.names} - {None}  # type: ignore[arg-type]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            use = _os_use(node.attr)
            if use:
                found.add(use)
    return found


def _os_use(name: str) -> str | None:
    for prefix in FORBIDDEN_PREFIXES:
        if name.startswith(prefix):
            return f"os.{prefix}"
    return f"os.{name}" if name in FORBIDDEN_CALLS else None


@pytest.mark.parametrize("path", modules(), ids=rel)
def test_programs_run_and_files_lock_only_through_core(path: Path):
    if CORE in path.parents:
        return
    for use in sorted(uses(path)):
        if (rel(path), use) in SANCTIONED:
            continue
        how = FORBIDDEN_IMPORTS.get(use, "run programs through core.execute")
        raise AssertionError(f"{rel(path)} uses {use}: {how} (or list it in SANCTIONED, why)")


def test_the_rules_read_the_whole_package():
    """Not vacuous: every module is read, the core's and the others' (a wrong PACKAGE, or a
    filter that drops files, would make every check below pass on nothing)."""
    found = {rel(p) for p in modules()}
    assert len(found) > 150, len(found)
    for known in ("core/execute.py", "core/files.py", "api/tenants.py", "cli.py"):
        assert known in found, known
    assert sum(CORE not in p.parents for p in modules()) > 100


def test_each_sanctioned_exception_is_still_needed():
    for (module, use), why in SANCTIONED.items():
        assert why, f"{module}: an exception needs its reason"
        assert use in uses(PACKAGE / module), f"{module} no longer uses {use}: drop its entry"


def test_the_check_sees_what_it_forbids(tmp_path: Path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os, subprocess\nfrom fcntl import flock\nfrom os import execv\n"
        "os.system('x')\nos.posix_spawn('x', [], {})\nos.spawnlp(0, 'x')\n"
    )
    expected = {"subprocess", "fcntl", "os.exec", "os.system", "os.posix_spawn", "os.spawn"}
    assert uses(sample) == expected


def long_functions(path: Path) -> dict[str, int]:
    return over_limit(path.read_text(), rel(path))


def over_limit(source: str, label: str) -> dict[str, int]:
    """label:name -> lines (from `def` to its last line) of each function over the limit."""
    found = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                found[f"{label}:{node.name}"] = lines
    return found


def test_no_function_is_longer_than_a_reader_can_hold():
    found: dict[str, int] = {}
    for path in modules():
        found.update(long_functions(path))
    over = {name: n for name, n in found.items() if name not in LONG_FUNCTIONS}
    assert not over, f"functions over {MAX_FUNCTION_LINES} lines (split them): {over}"
    stale = set(LONG_FUNCTIONS) - set(found)
    assert not stale, f"now at most {MAX_FUNCTION_LINES} lines, drop from LONG_FUNCTIONS: {stale}"


def _block(indent: int, lines: int) -> str:
    return ("    " * indent + "x = 1\n") * lines


def test_the_length_check_sees_long_functions():
    """A function, a method, an async and a nested one, each just over the limit, and one at
    it, measured from `def` (not its decorator) to its last line."""
    n = MAX_FUNCTION_LINES
    source = (
        f"def at_limit():\n{_block(1, n - 1)}"
        f"@staticmethod\ndef plain():\n{_block(1, n)}"
        f"class C:\n    async def method(self):\n{_block(2, n)}"
        f"def outer():\n    def inner():\n{_block(2, n - 1)}"
    )
    assert over_limit(source, "sample.py") == {
        "sample.py:plain": n + 1,
        "sample.py:method": n + 1,
        "sample.py:outer": n + 1,
    }
