"""Plain modules of odoo_saas_tools (standard library only) that this addon runs in Odoo's
Python: imported from the package when it is installed there, else loaded by path from the
package this addon ships in (odoo_saas_tools/odoo_addons/<this>)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def load(relative: str) -> ModuleType:
    """relative: "core/tenant_roles.py" -> odoo_saas_tools.core.tenant_roles."""
    dotted = "odoo_saas_tools." + relative.removesuffix(".py").replace("/", ".")
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as exc:
        if exc.name != "odoo_saas_tools":
            raise
    name = "odoo_saas_" + Path(relative).stem
    if name in sys.modules:
        return sys.modules[name]
    path = PACKAGE_ROOT / relative
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
