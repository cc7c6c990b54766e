"""Picks the backend of each data service from its mode; every backend hands out the same endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pulumi

from components.dump_restore_point import DumpRestorePoint, restore_point_spec
from components.endpoints import DataEndpoints
from components.object_store import SelfHostedObjectStore, external_object_store
from components.postgres import SelfHostedPostgres, external_postgres
from components.redis import SelfHostedRedis, external_redis
from components.runtime import Runtime
from stacks.config import StackConfig
from stacks.loader import ConfigError


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
    deployed: dict[str, pulumi.Resource] = {}
    for service, (settings_of, self_hosted, external) in BACKENDS.items():
        settings = settings_of(config)
        if settings.mode == "self-hosted":
            component = self_hosted(f"{name}-{service}", settings, runtime, config.registry.mirror)
            workloads.append(component.workload)
            deployed[service] = component.workload
            internal[service] = component.spec.address
            endpoints[service] = component.endpoint
        else:
            endpoints[service] = external(settings)
    data = DataEndpoints(endpoints["postgres"], endpoints["redis"], endpoints["object-store"])
    if config.restore_points.enabled and config.postgres.mode == "external":
        pulumi.log.warn("restorePoints.enabled: postgres.mode external takes no restore point before migrations; "
                        "back up your server with its own tooling before changing dify.version")
    if config.restore_points.enabled and config.postgres.mode == "self-hosted":
        # Every service that uses data (the migration, the api that migrates on Docker, the plugin
        # daemon that migrates its own database) starts after this release's restore point.
        if data.object_store.use_workload_identity:
            raise ConfigError(f"{pulumi.get_project()}:restorePoints.enabled: the restore point of a self-hosted "
                              "PostgreSQL is uploaded with the object store's keys, and objectStorage."
                              "useWorkloadIdentity gives none; set objectStorage.accessKey and secretKey, or "
                              "`pulumi config set --path restorePoints.enabled false`")
        spec = restore_point_spec(data.postgres, data.object_store, config.dify.version, config.restore_points.keep,
                                  config.registry.mirror)
        point = DumpRestorePoint(f"{name}-restore-point", spec, runtime,
                                 after=[deployed[s] for s in ("postgres", "object-store") if s in deployed])
        workloads.append(point.workload)
    return DataServices(data, workloads, internal)


def self_hosted_problems(config: StackConfig, target: str) -> list[str]:
    """Cloud targets run managed data services (or external ones the user runs), never in-cluster pods."""
    sections = (("postgres", config.postgres), ("redis", config.redis), ("objectStorage", config.object_storage))
    return [f"{key}.mode: target {target} uses managed services (or external ones you run); "
            f"set `pulumi config set --path {key}.mode managed`"
            for key, settings in sections if settings.mode == "self-hosted"]
