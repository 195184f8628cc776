"""The chart follows the settings: every variable it gives a pod is an odoo-saas setting, and
ci/settings-map.yaml places every setting (set from a value, set by the chart, or left at the
image's default on purpose), so a new setting fails here until someone decides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from odoo_saas_tools.core.settings import documented_variables
from tests.chart.conftest import CASES, CHART, Docs, pod_spec, workloads
from tests.chart.test_render import ONE_OFF_JOBS

MAP = CHART / "ci" / "settings-map.yaml"
GROUPS = ("values", "chart", "defaults")
# What a release can render beyond the ci cases and their one-off Jobs.
EXTRA = (("ha-values.yaml", ("backup.s3.sse=aws:kms", "backup.s3.sseKmsKeyId=alias/backups")),)


def settings_map() -> dict[str, dict[str, str]]:
    return yaml.safe_load(MAP.read_text())


def settings() -> dict[str, bool]:
    """Every setting's variable name -> whether it is a secret (read also from NAME_FILE)."""
    return {row["name"]: row["secret"] for row in documented_variables()}


@pytest.fixture(scope="module")
def renders(render: Callable[..., Docs]) -> list[tuple[str, Docs]]:
    out = []
    for case in CASES:
        out.append((case, render(case)))
        out.append((f"{case} + one-off Jobs", render(case, sets=ONE_OFF_JOBS)))
    for case, sets in EXTRA:
        out.append((f"{case} {' '.join(sets)}", render(case, sets=sets)))
    return out


def rendered_env(renders: list[tuple[str, Docs]]) -> dict[str, set[str]]:
    """Every variable name a container (init containers too) gets -> where."""
    seen: dict[str, set[str]] = {}
    for label, docs in renders:
        for obj in workloads(docs):
            spec = pod_spec(obj)
            for c in spec["containers"] + spec.get("initContainers", []):
                for e in c.get("env", []):
                    seen.setdefault(e["name"], set()).add(f"{label}: {obj['metadata']['name']}")
    return seen


def as_setting(name: str, known: dict[str, bool]) -> str | None:
    """The setting a rendered variable gives: NAME, or NAME_FILE of a secret NAME."""
    if name in known:
        return name
    if name.endswith("_FILE") and known.get(name.removesuffix("_FILE")):
        return name.removesuffix("_FILE")
    return None


def test_every_setting_is_placed_once():
    mapping, known = settings_map(), settings()
    placed: dict[str, list[str]] = {}
    for group in GROUPS:
        for name in mapping[group]:
            placed.setdefault(name, []).append(group)
    twice = {name: groups for name, groups in placed.items() if len(groups) > 1}
    assert not twice, f"{MAP.name}: placed more than once: {twice}"
    missing = sorted(set(known) - set(placed))
    assert not missing, (
        f"settings the chart has not decided on: {missing}. Add each to {MAP.name}: under "
        "`values` (and expose it in values.yaml, values.schema.json and templates/_helpers.tpl), "
        "`chart` (the chart sets it itself) or `defaults` (with the reason)"
    )
    gone = sorted(set(placed) - set(known))
    assert not gone, f"{MAP.name} names what is no setting (any more): {gone}"
    assert not set(mapping["other"]) & set(known), "a setting under `other`"
    for group in (*GROUPS, "other"):
        for name, why in mapping[group].items():
            assert isinstance(why, str) and why.strip(), f"{group}.{name}: say why"


def test_the_values_named_exist():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for name, path in settings_map()["values"].items():
        node: Any = values
        for key in path.split("."):
            assert isinstance(node, dict) and key in node, f"{name}: no value {path}"
            node = node[key]


def test_every_variable_the_chart_sets_is_a_setting(renders):
    """A typo, a removed setting or a secret given as a plain value fails here."""
    known, other = settings(), settings_map()["other"]
    for name, where in sorted(rendered_env(renders).items()):
        if name in other:
            continue
        setting = as_setting(name, known)
        assert setting, f"{name} is no odoo-saas setting (set in {sorted(where)[:3]})"
        assert not known[name.removesuffix("_FILE")] or name.endswith("_FILE"), (
            f"{name} is a secret given as a value: mount it and give {name}_FILE"
        )


def test_the_chart_sets_what_the_map_says_and_nothing_it_leaves_alone(renders):
    mapping, known = settings_map(), settings()
    rendered = {as_setting(n, known) for n in rendered_env(renders)} - {None}
    exposed = set(mapping["values"]) | set(mapping["chart"])
    never = sorted(exposed - rendered)
    assert not never, (
        f"{MAP.name} says the chart sets {never}, but no rendered pod gets them: "
        "render them in a ci/*-values.yaml case"
    )
    unplanned = sorted(rendered & set(mapping["defaults"]))
    assert not unplanned, f"{MAP.name} leaves {unplanned} at the default, but the chart sets them"
    assert set(mapping["other"]) <= set(rendered_env(renders)), "`other` lists what is not set"
