"""Picks the backend of each data service from its mode; every backend hands out the same endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import pulumi

from urllib.parse import urlsplit

from components.endpoints import DataEndpoints, VectorStoreEndpoint
from components.object_store import SelfHostedObjectStore, external_object_store
from components.postgres import SelfHostedPostgres, external_postgres
from components.redis import SelfHostedRedis, external_redis
from components.runtime import Runtime
from stacks.config import StackConfig
from stacks.settings_ops import VectorStoreSettings


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
        DataEndpoints(endpoints["postgres"], endpoints["redis"], endpoints["object-store"],
                      external_vector_store(config.vector_store)), workloads, internal
    )


def external_vector_store(settings: VectorStoreSettings) -> Optional[VectorStoreEndpoint]:
    """The store a user runs (vectorStore.kind external); None for the other kinds."""
    if settings.kind != "external":
        return None
    assert settings.engine is not None and settings.url is not None
    secret = lambda value: pulumi.Output.secret(value.get_secret_value()) if value is not None else None  # noqa: E731
    common = dict(api_key=secret(settings.api_key), password=secret(settings.password), user=settings.user)
    if settings.engine == "opensearch":
        url = urlsplit(settings.url)
        tls = url.scheme == "https"
        return VectorStoreEndpoint("opensearch", host=url.hostname, port=url.port or (443 if tls else 80), tls=tls,
                                   **common)
    return VectorStoreEndpoint(settings.engine, url=settings.url.rstrip("/"), database=settings.database,
                               grpc_endpoint=settings.grpc_endpoint, **common)


def self_hosted_problems(config: StackConfig, target: str) -> list[str]:
    """Cloud targets run managed data services (or external ones the user runs), never in-cluster pods."""
    sections = (("postgres", config.postgres), ("redis", config.redis), ("objectStorage", config.object_storage))
    return [f"{key}.mode: target {target} uses managed services (or external ones you run); "
            f"set `pulumi config set --path {key}.mode managed`"
            for key, settings in sections if settings.mode == "self-hosted"]
