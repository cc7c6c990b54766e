"""The compositions, one per target, each a module with `deploy(config) -> outputs`."""

from __future__ import annotations

import importlib
import importlib.util

import pulumi

from stacks import cloud_monitoring
from stacks.config import StackConfig
from stacks.loader import ConfigError

COMPOSITIONS = {
    "docker": "stacks.docker",
    "kubernetes": "stacks.kubernetes",
    "aws": "stacks.aws",
    "alicloud": "stacks.alicloud",
}


def deploy(config: StackConfig) -> dict[str, object]:
    module_name = COMPOSITIONS[config.target]
    problems = cloud_monitoring.problems(config)
    if problems:
        project = pulumi.get_project()
        raise ConfigError("invalid stack configuration:\n  - " + "\n  - ".join(f"{project}:{p.key}: {p}" for p in problems))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as missing:
        if missing.name != module_name:
            raise
        available = ", ".join(t for t, m in COMPOSITIONS.items() if importlib.util.find_spec(m))
        raise ConfigError(
            f"{pulumi.get_project()}:target: target {config.target!r} is validated but this release deploys only: "
            f"{available}. "
            "Set `pulumi config set target docker` to deploy on a Docker host, or "
            "`pulumi config set target kubernetes` to deploy on an existing cluster."
        ) from None
    return module.deploy(config)
