"""Runtime and tenant operations for a multi-tenant Odoo 19.0 image."""

import sys

__version__ = "0.1.0"


def _import_psycopg2_without_python_ssl() -> None:
    """Import psycopg2 while Python's ssl module cannot be imported.

    psycopg2 imports ssl only to tell libpq that Python has set up libcrypto's thread locking,
    which mattered before OpenSSL 1.1; that import is 15 ms of every command's start (a tenth
    of a signup from a spare tenant). psycopg2-binary carries its own libssl and libcrypto, so
    there is nothing to share with Python's: when ssl cannot be imported, psycopg2 lets libpq
    set up its own, as for a Python built without ssl. SSL connections to PostgreSQL work the
    same (tests/core/test_psycopg2_import.py), and ssl imports as usual afterwards (boto3).
    Inside Odoo (the session store addon) psycopg2 is already imported: nothing happens.
    """
    if "psycopg2" in sys.modules or "ssl" in sys.modules:
        return
    sys.modules["ssl"] = None  # type: ignore[assignment]  # import ssl -> ImportError
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pass  # not installed here: the commands that need it say so
    finally:
        del sys.modules["ssl"]


_import_psycopg2_without_python_ssl()
