"""Fixtures of the e2e tier: the toolchain from scripts/e2e/toolchain.sh's cache, a local control
plane, a file:// Pulumi backend and a copy of the project with an `e2e` stack of the kubernetes target.

Run with `venv/bin/python -m pytest -m e2e -q -n 0 tests/e2e` after `scripts/e2e/toolchain.sh`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLCHAIN = REPO / "scripts" / "e2e" / "toolchain.sh"
CACHE = Path(os.environ.get("DIFY_E2E_CACHE", Path.home() / ".cache" / "dify-e2e"))
STACK = "e2e"
NAMESPACE = "dify-e2e"
PASSPHRASE = "e2e-passphrase-not-a-secret"
CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
PULUMI = ("pulumi", "pulumi-language-python", "pulumi-language-python-exec",
          "pulumi-resource-kubernetes", "pulumi-resource-random")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


def _toolchain_path() -> str:
    out = subprocess.run(["bash", str(TOOLCHAIN), "--env"], capture_output=True, text=True, check=True).stdout
    # export PATH="a/bin:b/bin:$PATH"
    return out.split('"', 2)[1].replace("$PATH", "").rstrip(":")


def _failures() -> str:
    notes = []
    for f in sorted(CACHE.glob("*.failed")):
        notes.append(f.read_text(errors="replace").splitlines()[0])
    return ("; build failures: " + " | ".join(notes)) if notes else ""


@pytest.fixture(scope="session")
def bins() -> dict[str, str]:
    """Every binary of the tier, or a skip that names what is missing (and why, if a build failed)."""
    path = _toolchain_path()
    found, missing = {}, []
    for name in CONTROL_PLANE + PULUMI:
        where = shutil.which(name, path=path) if path else None
        if where:
            found[name] = where
        else:
            missing.append(name)
    if missing:
        pytest.skip(f"toolchain incomplete in {CACHE} (run scripts/e2e/toolchain.sh): missing "
                    f"{', '.join(missing)}{_failures()}")
    stages = Path(found["kwok"]).parent.parent / "stages" / "kwok.yaml"
    if not stages.is_file():
        pytest.skip(f"KWOK's stages are missing ({stages}): run scripts/e2e/toolchain.sh")
    found["kwok-stages"] = str(stages)
    found["PATH"] = path
    return found


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="dify-e2e-"))
    yield d
    if not os.environ.get("DIFY_E2E_KEEP"):
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster(bins: dict[str, str], workdir: Path):
    from tests.e2e.cluster import ControlPlane

    plane = ControlPlane(bins, workdir / "cluster")
    try:
        plane.start()
        yield plane
    finally:
        plane.stop()


class Pulumi:
    """The real CLI, on the project copy, against the file:// backend."""

    def __init__(self, project: Path, env: dict[str, str]) -> None:
        self.project = project
        self.env = env

    def run(self, *args: str, check: bool = True, timeout: float = 600,
            cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
        cmd = ["pulumi", *args, "--non-interactive"]
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=cwd or self.project, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        proc.seconds = time.monotonic() - started  # type: ignore[attr-defined]
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n"
                                 f"{proc.stderr[-6000:]}")
        return proc

    def json(self, *args: str) -> object:
        return json.loads(self.run(*args, "--json").stdout)

    def config(self, values: dict[str, str], stack: str = STACK, *flags: str) -> None:
        for key, value in values.items():
            self.run("config", "set", "--stack", stack, "--path", *flags, key, value)


def _copy_project(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("venv", ".venv", ".git", "__pycache__", ".pytest_cache", "Pulumi.*.yaml")
    shutil.copytree(REPO, dest, ignore=ignore, symlinks=True)
    # Pulumi.yaml runs the program with venv/; the policy pack's PulumiPolicy.yaml with policy/venv.
    # The repository's venv has both the program's and the pack's requirements.
    (dest / "venv").symlink_to(REPO / "venv")
    (dest / "policy" / "venv").symlink_to(REPO / "venv")
    return dest


@pytest.fixture(scope="session")
def pulumi(bins: dict[str, str], cluster, workdir: Path) -> Pulumi:
    project = _copy_project(workdir / "project")
    state = workdir / "state"
    state.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "KUBE"))}
    env.update(
        PATH=f"{bins['PATH']}:{REPO / 'venv' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        PULUMI_HOME=str(workdir / "pulumi-home"),
        PULUMI_BACKEND_URL=f"file://{state}",
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_SKIP_CONFIRMATIONS="true",
        KUBECONFIG=str(cluster.kubeconfig_path),
        NO_COLOR="1",
    )
    cli = Pulumi(project, env)
    cli.run("login", f"file://{state}")
    cli.run("stack", "init", STACK)
    cli.config({
        "dify-deploy:target": "kubernetes",
        "dify-deploy:size": "dev",
        "dify-deploy:kubernetes.namespace": NAMESPACE,
        "dify-deploy:kubernetes.entry": "ingress",
        "dify-deploy:kubernetes.storageClass": "e2e-local",
    })
    return cli
