"""The GitHub Actions workflows: valid against SchemaStore's workflow schema (check-jsonschema's
vendored copy, offline), and wired to what exists here: stack files, the CI script, documented secrets."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import yaml

from tools.mocks import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
README = (ROOT / "README.md").read_text()
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")


def check_jsonschema(*paths: Path) -> subprocess.CompletedProcess:
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or "check-jsonschema"
    return subprocess.run([tool, "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
                          capture_output=True, text=True, timeout=60)


def load(name: str) -> dict[str, Any]:
    # PyYAML reads the key `on` as True (YAML 1.1); workflows mean the string.
    data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))
    return data


def steps(workflow: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for job in workflow["jobs"].values():
        yield from job["steps"]


def test_the_three_workflows_exist():
    assert [p.name for p in WORKFLOWS] == ["deploy.yml", "preview.yml", "test.yml"]


def test_workflows_match_the_github_workflow_schema(tmp_path):
    done = check_jsonschema(*WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  test:\n    runs-on: ubuntu-24.04\n    step:\n      - run: true\n")
    assert check_jsonschema(broken).returncode != 0  # the validator does reject a wrong workflow


def test_every_action_is_pinned_to_a_version():
    for path in WORKFLOWS:
        for step in steps(load(path.name)):
            if "uses" in step:
                assert PINNED.match(step["uses"]), f"{path.name}: {step['uses']}"


def test_tests_run_the_ci_script_on_pull_requests_and_pushes():
    workflow = load("test.yml")
    assert {"pull_request", "push"} <= set(workflow["on"])
    assert any(step.get("run") == "bash .ci/run" for step in steps(workflow))


def test_preview_covers_the_cloud_stacks_and_comments_on_the_pull_request():
    workflow = load("preview.yml")
    assert set(workflow["on"]) == {"pull_request"}
    job = workflow["jobs"]["preview"]
    stacks = job["strategy"]["matrix"]["stack"]
    assert "dev" not in stacks
    for stack in stacks:
        assert (ROOT / f"Pulumi.{stack}.yaml").exists(), stack
    [pulumi] = [s for s in steps(workflow) if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["command"] == "preview" and pulumi["with"]["comment-on-pr"] is True
    assert workflow["permissions"]["pull-requests"] == "write" and workflow["permissions"]["id-token"] == "write"


def test_deploy_runs_up_on_main_behind_an_environment():
    workflow = load("deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    job = workflow["jobs"]["up"]
    assert job["environment"] == "production"
    assert workflow["concurrency"]["cancel-in-progress"] is False
    [pulumi] = [s for s in steps(workflow) if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["command"] == "up" and "prod" in pulumi["with"]["stack-name"]


def test_every_secret_the_workflows_use_is_documented():
    used = set()
    for path in WORKFLOWS:
        used |= set(re.findall(r"secrets\.([A-Z_]+)", path.read_text()))
    used.discard("GITHUB_TOKEN")  # GitHub provides it
    section = README.split("## Pull-request checks", 1)[1].split("\n## ", 1)[0]
    for secret in sorted(used):
        assert f"`{secret}`" in section, secret
