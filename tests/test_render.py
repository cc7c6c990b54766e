"""The offline render (tools/render.py): every declared resource, Kubernetes object and Docker
container as a file, no secret in any of them, and the same bytes from one run to the next."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.captured import captured
from tools.mocks import ROOT, Declared, Run, generated_passwords, manifests, run_program
from tools.mocks import alicloud as alicloud_mock
from tools.mocks.wire import secret
from tools.redact import MARK
from tools.render import CONTAINER, documents, resource_path, write

STACKS = ("dev", "k8s", "alicloud")
KNOWN = {
    "dev": ["resources/docker/index.container.Container/dify-dev-api.yaml", "docker/containers/dify-dev-api.yaml",
            "resources/random/index.randomPassword.RandomPassword/dify-dev-postgres-password.yaml"],
    "k8s": ["kubernetes/dify/Deployment/api.yaml", "kubernetes/dify/StatefulSet/postgres.yaml",
            "resources/kubernetes/apps.v1.Deployment/dify-k8s-api.yaml", "resources/pulumi/providers.kubernetes"],
    "alicloud": ["resources/alicloud/rds.instance.Instance/dify-alicloud-postgres-rds.yaml",
                 "resources/dify/alicloud.ManagedPostgres/dify-alicloud-postgres.yaml",
                 "kubernetes/dify/Deployment/api.yaml", "kubernetes/_cluster/Namespace/dify.yaml"],
}


def tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, dict[str, bytes]]:
    result = {}
    for stack in STACKS:
        out = tmp_path_factory.mktemp(stack)
        write(documents(captured(stack), stack), out)
        result[stack] = tree(out)
    return result


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_object_and_container_has_its_file(stack, rendered):
    run, files = captured(stack), rendered[stack]
    for known in KNOWN[stack]:
        assert any(path == known or path.startswith(known + "/") for path in files), known
    assert len([p for p in files if p.startswith("resources/")]) == len(run.resources)
    assert len([p for p in files if p.startswith("kubernetes/")]) == len(manifests(run))
    assert len([p for p in files if p.startswith("docker/")]) == len(run.of_type(CONTAINER))
    index = yaml.safe_load(files["stack.yaml"])
    assert (index["stack"], index["resources"]) == (stack, len(run.resources))
    assert set(index["outputs"]) == set(run.outputs)


@pytest.mark.parametrize("stack", STACKS)
def test_files_hold_what_was_declared(stack, rendered):
    run, files = captured(stack), rendered[stack]
    for r in run.resources:
        document = yaml.safe_load(files[resource_path(r)])
        assert (document["type"], document["name"], document["protect"]) == (r.typ, r.name, r.options["protect"])
        assert set(document["inputs"]) == set(r.inputs)
        assert document.get("dependsOn", []) == sorted(r.depends_on)
    # Objects without secrets are written exactly as the cluster receives them.
    deployments = [m for m in manifests(run) if m["kind"] == "Deployment"]
    for m in deployments:
        written = yaml.safe_load(files[f"kubernetes/{m['metadata']['namespace']}/Deployment/{m['metadata']['name']}.yaml"])
        assert written == m


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_is_written(stack, rendered):
    run = captured(stack)
    secrets = set(generated_passwords(run)) | run.secrets
    if stack == "alicloud":
        secrets |= {alicloud_mock.ACCESS_KEY_SECRET, "TU9DSy1LRVk="}  # the mock kubeconfig's client key
    assert generated_passwords(run), "the stack generates passwords"
    text = "\n".join(content.decode() for content in rendered[stack].values())
    assert MARK in text
    for value in secrets:
        assert value not in text, f"a secret is written ({len(value)} characters)"


def test_the_secret_outputs_keep_their_shape_only(rendered):
    outputs = yaml.safe_load(rendered["alicloud"]["stack.yaml"])["outputs"]
    assert outputs["kubeconfig"] == MARK
    assert outputs["difyUrl"] == "https://dify.example.com"


def test_a_secret_in_plain_text_is_redacted_and_env_names_stay():
    leaked = "leakedPasswordValue1"
    run = Run(resources=[Declared("test:index:Thing", "leaky", {
        "url": f"redis://:{leaked}@cache:6379/0",
        "envs": secret(["DB_HOST=db", f"DB_PASSWORD={leaked}"]),
        "map": secret({"token": "abc"}),
        "pin": secret("4821"),
        "copy": "4821",
        # Too short to look for inside longer text: that would blank unrelated values.
        "text": "room 4821",
    }, True, "")], secrets={leaked})
    document = documents(run, "test")["resources/test/index.Thing/leaky.yaml"]["inputs"]
    assert document == {"url": f"redis://:{MARK}@cache:6379/0", "envs": [f"DB_HOST={MARK}", f"DB_PASSWORD={MARK}"],
                        "map": {"token": MARK}, "pin": MARK, "copy": MARK, "text": "room 4821"}


@pytest.mark.parametrize("stack", ["dev", "k8s"])
def test_a_second_run_renders_the_same_bytes(stack, rendered, tmp_path):
    write(documents(run_program(stack), stack), tmp_path)
    assert tree(tmp_path) == rendered[stack]


def test_the_command_renders_the_same_bytes_in_another_process(rendered, tmp_path):
    out = tmp_path / "alicloud"
    env = {**os.environ, "PYTHONHASHSEED": "random"}
    done = subprocess.run([sys.executable, "-m", "tools.render", "alicloud", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert tree(out) == rendered["alicloud"]


def test_a_render_replaces_the_previous_one_and_nothing_else(tmp_path):
    stale = tmp_path / "resources" / "gone" / "old.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    with pytest.raises(SystemExit, match="not empty"):
        write({"stack.yaml": {}}, tmp_path)
    (tmp_path / "stack.yaml").write_text("{}")
    (tmp_path / "notes.txt").write_text("kept")
    write({"stack.yaml": {"stack": "x"}}, tmp_path)
    assert not stale.exists() and (tmp_path / "notes.txt").read_text() == "kept"
