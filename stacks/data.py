"""Picks the backend of each data service from its mode; every backend hands out the same endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pulumi

from components.endpoints import DataEndpoints
from components.object_store import SelfHostedObjectStore, external_object_store
from components.postgres import SelfHostedPostgres, external_postgres
from components.redis import SelfHostedRedis, external_redis
from components.runtime import Runtime
from stacks.config import StackConfig


@dataclass(frozen=True)
class DataServices:
    endpoints: DataEndpoints
    workloads: list[pulumi.Resource]
    internal: dict[str, str]


# service -> (its settings in the config, self-hosted component, external endpoint)
BACKENDS: dict[str, tuple[Callable[[StackConfig], Any], type, Callable[[Any], Any]]] = {
    "postgres": (lambda c: c.postgres, SelfHostedPostgres, external_postgres),
    "redis": (lambda c: c.redis, SelfHostedRedis, external_redis),
    "object-store": (lambda c: c.object_storage, SelfHostedObjectStore, external_object_store),
}


def self_hosted_or_external(name: str, config: StackConfig, runtime: Runtime) -> DataServices:
    """Data services for targets without managed ones (Docker, an existing cluster)."""
    workloads: list[pulumi.Resource] = []
    internal: dict[str, str] = {}
    endpoints: dict[str, Any] = {}
    for service, (settings_of, self_hosted, external) in BACKENDS.items():
        settings = settings_of(config)
        if settings.mode == "self-hosted":
            component = self_hosted(f"{name}-{service}", settings, runtime, config.registry.mirror)
            workloads.append(component.workload)
            internal[service] = component.spec.address
            endpoints[service] = component.endpoint
        else:
            endpoints[service] = external(settings)
    return DataServices(
        DataEndpoints(endpoints["postgres"], endpoints["redis"], endpoints["object-store"]), workloads, internal
    )


def self_hosted_problems(config: StackConfig, target: str) -> list[str]:
    """Cloud targets run managed data services (or external ones the user runs), never in-cluster pods."""
    sections = (("postgres", config.postgres), ("redis", config.redis), ("objectStorage", config.object_storage))
    return [f"{key}.mode: target {target} uses managed services (or external ones you run); "
            f"set `pulumi config set --path {key}.mode managed`"
            for key, settings in sections if settings.mode == "self-hosted"]
