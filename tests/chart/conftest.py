"""Render the Helm chart with the real `helm` (skipped, with the reason, only if helm is absent)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.backups.conftest import seaweed  # noqa: F401 - the S3 server for the Jobs' runs

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "odoo-saas"
CASES = sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))
Docs = list[dict[str, Any]]


def helm_binary() -> str | None:
    """helm on PATH, else the one .ci/run installs into .ci/bin."""
    found = shutil.which("helm")
    local = ROOT / ".ci" / "bin" / "helm"
    return found or (str(local) if local.exists() else None)


@pytest.fixture(scope="session")
def helm() -> str:
    binary = helm_binary()
    if not binary:
        pytest.skip("helm not found (.ci/run installs it into .ci/bin)")
    return binary


def run_helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm, *args], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )


def template_args(values: list[str | Path], sets: tuple[str, ...]) -> list[str]:
    args = ["template", "odoo", str(CHART), "--namespace", "saas"]
    for v in values:
        args += ["-f", str(v if Path(v).is_absolute() else CHART / "ci" / v)]
    for s in sets:
        args += ["--set", s]
    return args


@pytest.fixture(scope="session")
def render(helm: str) -> Callable[..., Docs]:
    """render("ha-values.yaml", "web.replicas=2") -> the rendered objects (fails on errors)."""
    cache: dict[tuple[Any, ...], Docs] = {}

    def do(*values: str | Path, sets: tuple[str, ...] = ()) -> Docs:
        key = (values, sets)
        if key not in cache:
            proc = run_helm(helm, *template_args(list(values), sets))
            assert proc.returncode == 0, proc.stderr
            cache[key] = [d for d in yaml.safe_load_all(proc.stdout) if d]
        return cache[key]

    return do


@pytest.fixture(scope="session")
def render_error(helm: str) -> Callable[..., str]:
    """The error helm gives for values that must be refused (asserts it is refused)."""

    def do(*values: str | Path, sets: tuple[str, ...] = ()) -> str:
        proc = run_helm(helm, *template_args(list(values), sets))
        assert proc.returncode != 0, f"helm accepted {values} {sets}"
        return proc.stderr

    return do


def find(docs: Docs, kind: str, suffix: str = "") -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(suffix)]
    assert len(matches) == 1, f"{kind} *{suffix}: {[d['metadata']['name'] for d in matches]}"
    return matches[0]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def workloads(docs: Docs) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in ("Deployment", "Job", "CronJob")]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """name -> value (str) or the valueFrom dict."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}
