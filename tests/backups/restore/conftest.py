"""Fixtures for backup/restore: fake Odoo tenants built by hand (no Odoo needed) and helpers."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from odoo_saas_tools.core.settings import Settings
from odoo_saas_tools.postgres import databases
from odoo_saas_tools.postgres.connection import connect
from odoo_saas_tools.tenants import hidden
from tests.support.tenants import fake_odoo_tenant, write_attachment

FAKE_SCHEMA = """
CREATE TABLE ir_module_module (id serial PRIMARY KEY, name varchar NOT NULL UNIQUE,
    latest_version varchar, state varchar);
CREATE TABLE ir_attachment (id serial PRIMARY KEY, name varchar, type varchar, store_fname varchar,
    checksum varchar(40), file_size int, mimetype varchar);
CREATE TABLE ir_config_parameter (id serial PRIMARY KEY, key varchar NOT NULL UNIQUE,
    value text NOT NULL, create_uid int, write_uid int, create_date timestamp,
    write_date timestamp);
CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar NOT NULL, note text);
INSERT INTO ir_module_module (name, latest_version, state) VALUES
    ('base', '19.0.1.3', 'installed'), ('web', '19.0.1.0', 'installed'),
    ('sale', '19.0.1.2', 'uninstalled');
INSERT INTO res_partner (name, note)
    SELECT 'partner ' || i, repeat('x', i % 50) FROM generate_series(1, 500) i;
"""


def unique_name(prefix: str = "tb") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def attachment_paths(settings: Settings, db: str) -> dict[str, Path]:
    """Every attachment file of db: relative path -> path.

    Odoo's GC markers (checklist/, empty files) are not attachments and are left out.
    """
    root = settings.filestore(db)
    return {
        str(path.relative_to(root)): path
        for path in root.rglob("*")
        if path.is_file() and path.relative_to(root).parts[0] != "checklist"
    }


def tenant_files(settings: Settings, db: str) -> dict[str, str]:
    """Every attachment file of db: relative path -> sha1 of its content."""
    return {
        rel: hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest()
        for rel, path in attachment_paths(settings, db).items()
    }


def db_rows(settings: Settings, db: str, query: str) -> list[tuple]:
    with connect(settings, db) as conn, conn.cursor() as cr:
        cr.execute(query)
        return cr.fetchall()


def add_attachment(settings: Settings, db: str, data: bytes, name: str = "file.bin") -> str:
    """Write a file the way Odoo does (<sha[:2]>/<sha1>) and register it in ir_attachment."""
    with connect(settings, db) as conn, conn.cursor() as cr:
        return write_attachment(settings, cr, db, data, name)


# A tenant made as Odoo makes a database (databases.create_empty), with a fresh identity and
# attachments of random content.
MODULES = (
    ("base", "19.0.1.3", "installed"),
    ("web", "19.0.1.0", "installed"),
    ("sale", "19.0.1.2", "uninstalled"),
)


def random_file(_db: str, i: int) -> bytes:
    return os.urandom(1000 + i * 37)


@pytest.fixture
def fake_tenant(settings: Settings) -> Iterator[Callable[..., str]]:
    """make(files=N) -> name of a new fake Odoo 19 database with N attachments on disk."""
    made: list[str] = []

    def make(files: int = 5, name: str | None = None) -> str:
        db = name or unique_name()
        made.append(db)
        identity = {
            "database.uuid": str(uuid.uuid1()),
            "database.secret": str(uuid.uuid4()),
            "web.base.url": "https://tenant.example.com",
        }
        fake_odoo_tenant(
            settings,
            db,
            modules=MODULES,
            params=identity,
            files=files,
            content=random_file,
            partners=500,
            create=databases.create_empty,
        )
        return db

    yield make
    with connect(settings) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT datname FROM pg_database WHERE datname = ANY(%s) OR datname LIKE %s "
            "OR datname LIKE %s",
            (
                made,
                hidden.RESTORE_PREFIX.replace("_", "\\_") + "%",
                hidden.REPLACED_PREFIX.replace("_", "\\_") + "%",
            ),
        )
        leftovers = [name for (name,) in cr.fetchall()]
    for name in leftovers:
        databases.drop(settings, name)


def partial_files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.name.endswith(".partial")]
