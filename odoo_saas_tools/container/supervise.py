"""supervisord in this process, turning a FATAL program into exit status 1.

supervisord itself always exits 0; an orchestrator only restarts a container that fails, so the
watchdog leaves a marker and this wrapper turns it into a failure.
"""

from __future__ import annotations

import contextlib
import sys

from odoo_saas_tools.core.settings import Settings


def supervise(settings: Settings) -> int:
    from supervisor import supervisord

    marker = settings.runtime_dir / "fatal"
    with contextlib.suppress(FileNotFoundError):
        marker.unlink()
    supervisord.main(["-c", str(settings.supervisord_conf)])
    if marker.exists():
        program = marker.read_text().strip() or "odoo"
        print(
            f"odoo-saas: error: {program} could not be kept running (FATAL); exiting 1",
            file=sys.stderr,
        )
        return 1
    return 0
