"""Ask Odoo's own Python for its addons path and which of the addons' requirements it satisfies.

Odoo may run on another interpreter than odoo-saas (a system Python, a venv), so dependencies
are checked there, through `odoo shell` with a minimal configuration (no database: about 1.5 s).
Without Odoo on this machine the probe runs in our interpreter, with the same PYTHONPATH Odoo
would get, and says so.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odoo_saas_tools.core import execute
from odoo_saas_tools.core.errors import SaasError
from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.odoo import runner as odoo_runner
from odoo_saas_tools.odoo.environment import odoo_environment

SCRIPT = Path(__file__).with_name("probe_script.py")
MARKER = "ODOO-SAAS-PROBE:"


@dataclass
class ProbeResult:
    executable: str
    via_odoo: bool
    addons_path: list[str] | None
    has_pip: bool
    results: list[dict[str, Any]] = field(default_factory=list)
    installed: dict[str, str] = field(default_factory=dict)


def odoo_found(settings: Settings) -> str | None:
    return shutil.which(settings.odoo_bin)


def run_probe(settings: Settings, requirements: list[dict[str, str]]) -> ProbeResult:
    """requirements: [{"spec": ..., "kind": "external" | "requirement"}]; SaasError if it fails."""
    script = (
        f"REQUEST = {json.dumps({'requirements': requirements})!r}\n"
        "import json as _json\nREQUEST = _json.loads(REQUEST)\n"
        + SCRIPT.read_text()
        + "\nmain(REQUEST)\n"
    )
    odoo = odoo_found(settings)
    if odoo:
        out = odoo_runner.probe_shell(settings, script)
    else:
        with tempfile.TemporaryDirectory(prefix="odoo-saas-probe-") as tmp:
            proc = execute.run(
                [sys.executable, "-"],
                env=odoo_environment(settings),
                clean_env=True,
                input=script.encode(),
                capture=True,
                cwd=tmp,
                timeout=odoo_runner.PROBE_TIMEOUT,
            )
        out = proc.stdout.decode(errors="replace")
    answer = odoo_runner.read_marker(out, MARKER)
    if answer is not None:
        return ProbeResult(
            executable=answer["executable"],
            via_odoo=bool(odoo),
            addons_path=answer["addons_path"],
            has_pip=answer["has_pip"],
            results=answer["results"],
            installed=answer["installed"],
        )
    raise SaasError(f"{'odoo shell' if odoo else 'python'} did not answer the dependency probe")
