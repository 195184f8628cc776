"""A signup is one `odoo-saas tenant provision` process: what it imports is most of its CPU
(issue 13's burst of 20 saturates 2 cores). Modules only some paths need are imported there."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import odoo_saas_tools.cli
import odoo_saas_tools.commands.db.create
import odoo_saas_tools.commands.tenant.provision
heavy = ("ssl", "subprocess", "tempfile", "zoneinfo", "shlex", "boto3", "redis", "jinja2", "yaml")
print(" ".join(sorted(m for m in heavy if m in sys.modules)))
"""


def test_provisioning_imports_none_of_what_only_other_paths_need() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == []
