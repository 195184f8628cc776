"""The Odoo series this image serves: the one place that says 19.0."""

from __future__ import annotations

ODOO_SERIES = "19.0"
# odoo.release.version_info of the series, as Odoo writes it into a backup's manifest.json
VERSION_INFO = [19, 0, 0, "final", 0, ""]


def is_current(version: str | None) -> bool:
    """Whether a module or database version (`19.0`, `19.0.1.3`) belongs to this series."""
    return bool(version) and (version == ODOO_SERIES or version.startswith(ODOO_SERIES + "."))
