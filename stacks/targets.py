"""The compositions, one per target."""

from __future__ import annotations

from stacks import docker, kubernetes
from stacks.config import StackConfig
from stacks.loader import ConfigError

COMPOSITIONS = {"docker": docker.deploy, "kubernetes": kubernetes.deploy}


def deploy(config: StackConfig) -> dict[str, object]:
    composition = COMPOSITIONS.get(config.target)
    if composition is None:
        available = ", ".join(sorted(COMPOSITIONS))
        raise ConfigError(
            f"target {config.target!r} is validated but this release deploys only: {available}. "
            "Set `pulumi config set target docker` to deploy on a Docker host, or "
            "`pulumi config set target kubernetes` to deploy on an existing cluster."
        )
    return composition(config)
