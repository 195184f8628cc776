"""Damage done to a memo's JSON by the trust tests (`db list`'s memo, the exporter's scans):
each a change(data, tenant) made to the parsed file before it is written back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Change = Callable[[dict[str, Any], str], None]


def set_fields(section: str = "tenants", /, **values: Any) -> Change:
    """The tenant's entry in section, these fields changed."""

    def change(data: dict[str, Any], name: str) -> None:
        data[section][name].update(values)

    return change


def drop(key: str) -> Change:
    """The tenant's entry without key."""

    def change(data: dict[str, Any], name: str) -> None:
        del data["tenants"][name][key]

    return change


def replace_entry(value: Any) -> Change:
    """The tenant's entry replaced by value (not an object, null ...)."""

    def change(data: dict[str, Any], name: str) -> None:
        data["tenants"][name] = value

    return change


def set_top(key: str, value: Any) -> Change:
    """A top-level key of the memo replaced."""

    def change(data: dict[str, Any], name: str) -> None:
        data[key] = value

    return change
