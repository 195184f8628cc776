"""Unit tier: the settings' parser table (core/settings.py PARSERS), kind by kind. Pure code: no
service, no environment, milliseconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from odoo_saas_tools.core.errors import ConfigError
from odoo_saas_tools.core.settings import PARSERS, parse_value, variables


def meta(kind: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "secret": False, "choices": (), "minimum": None, **extra}


def parse(kind: str, raw: str, **extra: Any) -> Any:
    return parse_value("VAR", raw, meta(kind, **extra))


def test_every_kind_a_setting_uses_has_a_parser():
    used = {f.metadata["kind"] for f in variables()}
    assert used <= PARSERS.keys(), used - PARSERS.keys()
    with pytest.raises(AssertionError, match="unknown kind nope"):
        parse("nope", "1")


@pytest.mark.parametrize(
    ("kind", "raw", "value", "extra"),
    [
        ("str", "  text ", "text", {}),
        ("str", " s3cret ", " s3cret ", {"secret": True}),  # a secret is kept byte for byte
        ("bool", " Yes ", True, {}),
        ("bool", "off", False, {}),
        ("bool", "", False, {}),
        ("int", "12", 12, {"minimum": 1}),
        ("int", "-3", -3, {}),
        ("int?", "auto", None, {}),
        ("int?", "", None, {}),
        ("int?", "4", 4, {"minimum": 1}),
        ("port", "5432", 5432, {}),
        ("port", "65535", 65535, {}),
        ("size", "512", 512, {}),
        ("size", "10k", 10 * 1024, {}),
        ("size", "3 MB", 3 * 1024**2, {}),
        ("size", "2g", 2 * 1024**3, {}),
        ("choice", "prefer", "prefer", {"choices": ("disable", "prefer")}),
        ("choice", "", "", {"choices": ("", "AES256")}),
        ("path", " /data ", Path("/data"), {}),
        ("paths", " /a , ,/b ", (Path("/a"), Path("/b")), {}),
        ("list", "a,, b ,c", ("a", "b", "c"), {}),
        ("cron", "0 */6 * * *", "0 */6 * * *", {}),
        ("tz", "Europe/Brussels", "Europe/Brussels", {}),
    ],
)
def test_each_kind_parses_its_values(kind, raw, value, extra):
    assert parse(kind, raw, **extra) == value


@pytest.mark.parametrize(
    ("kind", "raw", "message", "extra"),
    [
        ("bool", "maybe", "VAR='maybe' is not a boolean: use true or false", {}),
        ("int", "1.5", "VAR='1.5' is not a whole number", {}),
        ("int", "0", "VAR=0 is too small: at least 1", {"minimum": 1}),
        ("int?", "lots", "VAR='lots' is not a whole number", {}),
        ("port", "0", "VAR=0 is too small: at least 1", {}),
        ("port", "65536", "VAR=65536 is not a port: 1 to 65535", {}),
        ("size", "10 parsecs", "VAR='10 parsecs' is not a size", {}),
        ("choice", "x", "VAR='x' is not one of: (empty), AES256", {"choices": ("", "AES256")}),
        ("path", "  ", "VAR must not be empty", {}),
        ("cron", "every 5 minutes", "VAR='every 5 minutes' is not a cron expression", {}),
        ("tz", "Mars/Olympus", "VAR='Mars/Olympus' is not a known time zone", {}),
        ("str", "two\nlines", "VAR must be a single line", {}),
        ("int", "1\r", "VAR must be a single line", {}),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(kind, raw, message, extra):
    with pytest.raises(ConfigError) as err:
        parse(kind, raw, **extra)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)
