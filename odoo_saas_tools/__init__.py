"""Runtime and tenant operations for a multi-tenant Odoo 19.0 image."""

import sys

__version__ = "0.1.0"


class _Psycopg2WithoutPythonSsl:
    """Import psycopg2, when something first does, while Python's ssl module cannot be imported.

    psycopg2 imports ssl only to tell libpq that Python has set up libcrypto's thread locking,
    which mattered before OpenSSL 1.1; that import is 15 ms of every command's start (a tenth
    of a signup from a spare tenant). psycopg2-binary carries its own libssl and libcrypto, so
    there is nothing to share with Python's: when ssl cannot be imported, psycopg2 lets libpq
    set up its own, as for a Python built without ssl. SSL connections to PostgreSQL work the
    same (tests/core/test_psycopg2_import.py), and ssl imports as usual afterwards (boto3).

    This is a finder on sys.meta_path rather than an import here: a command handed to the
    command server (runtime/command_client.py) never needs psycopg2 in its own process, and
    importing it is 40 ms. Inside Odoo (the session store addon) psycopg2 is already imported:
    nothing happens.
    """

    @classmethod
    def find_spec(cls, name: str, path: object = None, target: object = None) -> object:
        if name != "psycopg2":
            return None
        sys.meta_path.remove(cls)  # once: later imports find the module in sys.modules
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)  # type: ignore[arg-type]
        if spec is not None and spec.loader is not None and "ssl" not in sys.modules:
            spec.loader = _LoaderWithoutSsl(spec.loader)
        return spec


class _LoaderWithoutSsl:
    """Runs psycopg2's own loader with `import ssl` failing, then lets ssl import again."""

    def __init__(self, loader: object) -> None:
        self.loader = loader

    def create_module(self, spec: object) -> object:
        return self.loader.create_module(spec)  # type: ignore[attr-defined]

    def exec_module(self, module: object) -> None:
        hidden = "ssl" not in sys.modules
        if hidden:
            sys.modules["ssl"] = None  # type: ignore[assignment]  # import ssl -> ImportError
        try:
            self.loader.exec_module(module)  # type: ignore[attr-defined]
        finally:
            if hidden:
                del sys.modules["ssl"]


if "psycopg2" not in sys.modules and "ssl" not in sys.modules:
    sys.meta_path.insert(0, _Psycopg2WithoutPythonSsl)  # type: ignore[arg-type]
