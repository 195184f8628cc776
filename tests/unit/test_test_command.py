"""Unit tier: CI runs the test command the README documents, word for word (the suite's time
is measured with it), and that command runs the suite in parallel workers."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_command() -> str:
    found = re.findall(r"&& (\.venv/bin/pytest[^\n]*)", (ROOT / "README.md").read_text())
    assert len(found) == 1, found
    return found[0].strip()


def ci_command() -> str:
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    found = [ln for ln in lines if ln.startswith(".venv/bin/pytest")]
    assert len(found) == 1, found
    return found[0]


def test_ci_runs_the_readmes_test_command():
    assert ci_command() == readme_command()


def test_the_test_command_runs_xdist_workers():
    words = readme_command().split()
    assert "-n" in words and int(words[words.index("-n") + 1]) >= 2, words
