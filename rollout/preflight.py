"""The checks that run before anything is changed, in the order a person would fix them.
Each returns a line saying what it found, or raises PreflightError saying what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from rollout import credentials, docker_host
from rollout.answers import Answers
from rollout.errors import PreflightError
from rollout.stack_file import ROOT, StackFile


def program_environment(root: Path = ROOT) -> str:
    """Pulumi runs the program with the interpreter of `venv/` (Pulumi.yaml: virtualenv: venv)."""
    venv = root / "venv"
    if not any((venv / sub).exists() for sub in ("bin/python", "Scripts/python.exe")):
        raise PreflightError(
            f"No virtual environment at {venv}: Pulumi runs the program with it. Create it with "
            "`python3 -m venv venv && venv/bin/pip install -r requirements.txt`."
        )
    return f"program environment {venv}"


def target_checks(answers: Answers, stack_file: StackFile, *, skip_credentials: bool = False,
                  skip_docker: bool = False) -> list[Callable[[], str]]:
    """What the target needs from this machine."""
    if answers.target == "docker":
        if skip_docker:
            return []
        host, ssh_opts = docker_host.docker_host(stack_file.config)
        return [lambda: docker_host.check(host, ssh_opts)]
    if answers.target == "kubernetes":
        return [lambda: credentials.kubeconfig(stack_file.config)]
    cloud = {"aws": [credentials.aws_cli, credentials.aws], "alicloud": [credentials.alicloud]}[answers.target]
    if skip_credentials:
        cloud = [check for check in cloud if check is credentials.aws_cli]
    return cloud
