"""The three shapes odoo-saas keeps in its hidden databases' comments (tenants.hidden): written
and read in one place, and anything not exactly of our shape is absent (a comment is plain
text anyone with the right to COMMENT could have changed)."""

from __future__ import annotations

import json

import pytest

from odoo_saas_tools.tenants.hidden import Journal, Snapshot, TemplateMeta, journal


def test_a_journal_reads_back_what_was_written():
    text = journal("restore", "acme", "replaced", scratch="odoo_saas_restore_0123")
    found = Journal.parse(text)
    assert found == Journal("restore", "acme", "replaced", {"scratch": "odoo_saas_restore_0123"})
    assert found.get("scratch") == "odoo_saas_restore_0123" and found.get("spare") is None
    assert json.loads(text) == {
        "odoo_saas": "restore",
        "tenant": "acme",
        "role": "replaced",
        "scratch": "odoo_saas_restore_0123",
    }  # the format earlier versions wrote: their journals are still read


@pytest.mark.parametrize(
    "comment",
    [
        "",
        "not json",
        "[]",
        '"a string"',
        json.dumps({"tenant": "acme"}),  # no operation: not ours
        json.dumps({"odoo_saas": "restore", "tenant": ["acme"]}),
        json.dumps({"odoo_saas": "restore", "tenant": "acme", "scratch": {"x": 1}}),
        json.dumps({"odoo_saas": 1, "tenant": "acme"}),
    ],
)
def test_anything_else_is_no_journal(comment):
    assert Journal.parse(comment) is None


def test_a_snapshot_names_its_tenant_or_is_none():
    assert Snapshot.parse(Snapshot("acme").comment()) == Snapshot("acme")
    for comment in ("", "{}", '{"snapshot_of": 3}', '{"snapshot_of": ""}', "[1]"):
        assert Snapshot.parse(comment) is None


def test_template_metadata_of_another_shape_is_empty():
    meta = {"modules": ["base"], "created": "2026-01-01T00:00:00+00:00"}
    assert TemplateMeta.parse(TemplateMeta(meta).comment()).data == meta
    assert TemplateMeta.parse("[1, 2]").data == {} and TemplateMeta.parse("{").data == {}
