"""Pre-flight fixtures: addon trees written by the tests, settings pointing at them."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from odoo_saas_tools.core.settings import Settings


def write_addon(
    root: Path,
    name: str,
    manifest: str | None = None,
    *,
    init: bool = True,
    files: dict[str, str] | None = None,
) -> Path:
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    text = manifest if manifest is not None else f"{{'name': '{name}', 'version': '19.0.1.0.0'}}"
    (path / "__manifest__.py").write_text(text)
    if init:
        (path / "__init__.py").write_text("")
    for rel, content in (files or {}).items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(content)
    return path


def unique(prefix: str = "pf") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def no_odoo_env(saas_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The shared environment with Odoo out of reach and a private deps dir."""
    return {
        **saas_env,
        "ODOO_BIN": str(tmp_path / "no-odoo-here"),
        "ODOO_DEPS_DIR": str(tmp_path / "deps"),
        "ODOO_DB_FILTER": "^no_such_db_pf$",
    }


@pytest.fixture
def addons_dir(saas_env: dict[str, str]) -> Path:
    return Path(saas_env["ODOO_EXTRA_ADDONS"])


def settings_of(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)
