"""Prometheus's own checker for rendered rules (scripts/tools/promtool.sh builds and caches it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional

import pytest

VERSION = "v0.316.0"
CACHED = Path(os.environ.get("DIFY_TOOLS_CACHE", Path.home() / ".cache" / "dify-tools")) / f"promtool-{VERSION}" / "promtool"


def binary() -> str:
    """The promtool to use. CI (.ci/run) installs it first and sets DIFY_REQUIRE_PROMTOOL, so there a
    missing binary fails the test; elsewhere the test is skipped with the command that installs it."""
    found: Optional[str] = os.environ.get("PROMTOOL") or (str(CACHED) if CACHED.exists() else shutil.which("promtool"))
    if found:
        return found
    message = "promtool is missing: run scripts/tools/promtool.sh (builds it from the Go module proxy)"
    if os.environ.get("DIFY_REQUIRE_PROMTOOL"):
        pytest.fail(message)
    pytest.skip(message)


def check_rules(groups: list[dict], tmp_path: Path) -> subprocess.CompletedProcess:
    """`promtool check rules` on a rule file holding `groups` (JSON is YAML)."""
    path = tmp_path / "rules.yaml"
    path.write_text(json.dumps({"groups": groups}))
    return subprocess.run([binary(), "check", "rules", str(path)], capture_output=True, text=True, timeout=120)


def test_rules(groups: list[dict], tests: list[dict], tmp_path: Path) -> subprocess.CompletedProcess:
    """`promtool test rules`: `tests` (promtool's unit-test cases) against `groups`, with the annotations
    left out (they are templates for people; the cases check expressions, durations and labels)."""
    bare = [{**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]} for g in groups]
    (tmp_path / "rules.yaml").write_text(json.dumps({"groups": bare}))
    (tmp_path / "tests.yaml").write_text(json.dumps({"rule_files": ["rules.yaml"], "evaluation_interval": "1m",
                                                     "tests": tests}))
    return subprocess.run([binary(), "test", "rules", str(tmp_path / "tests.yaml")], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
