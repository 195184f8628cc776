"""Where the runtime directory is, known without building the settings.

The command client (runtime/command_client.py) looks there for the command server's socket at
the start of every `tenant provision`, before anything else is imported; building the settings
costs more than the whole call it saves. Its answer is only a guess: the server checks it
against the settings the command will run with, and a wrong guess runs the command in place.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing and collections.abc cost the client more than its whole run
if TYPE_CHECKING:
    from collections.abc import Mapping

VARIABLE = "ODOO_SAAS_RUNTIME_DIR"
DEFAULT = "/run/odoo-saas"
COMMAND_SOCKET = "commands.sock"  # the command server's, in the runtime directory


def guess_command_socket(environ: Mapping[str, str]) -> str:
    return (environ.get(VARIABLE, "").strip() or DEFAULT).rstrip("/") + "/" + COMMAND_SOCKET
