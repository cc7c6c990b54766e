"""Picks the backend of each data service from its mode; every backend hands out the same endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pulumi

from components.endpoints import DataEndpoints, ObjectStoreEndpoint
from components.object_store import SelfHostedObjectStore, external_object_store
from components.postgres import MAX_CONNECTIONS, SelfHostedPostgres, external_postgres
from components.postgres_ha import HaPostgresArgs, HighlyAvailablePostgres
from components.redis import SelfHostedRedis, external_redis
from components.redis_ha import HaRedisArgs, HighlyAvailableRedis
from components.runtime import Runtime
from stacks import budget, data_mode
from stacks.config import StackConfig


@dataclass(frozen=True)
class DataServices:
    endpoints: DataEndpoints
    workloads: list[pulumi.Resource]
    internal: dict[str, str]
    # service -> `single` / `ha`, for the self-hosted ones (exported as `selfHostedData`).
    modes: Any = None


# service -> (its settings in the config, self-hosted component, external endpoint)
BACKENDS: dict[str, tuple[Callable[[StackConfig], Any], type, Callable[[Any], Any]]] = {
    "postgres": (lambda c: c.postgres, SelfHostedPostgres, external_postgres),
    "redis": (lambda c: c.redis, SelfHostedRedis, external_redis),
    "object-store": (lambda c: c.object_storage, SelfHostedObjectStore, external_object_store),
}


def self_hosted_or_external(name: str, config: StackConfig, runtime: Runtime) -> DataServices:
    """Data services for targets without managed ones (Docker, an existing cluster). On a cluster the
    self-hosted ones wait for the data-mode guard (stacks.data_mode)."""
    workloads: list[pulumi.Resource] = []
    internal: dict[str, str] = {}
    endpoints: dict[str, Any] = {}
    modes = data_mode.current_modes(config)
    guard: list[pulumi.Resource] = []
    exported: Any = modes
    if config.target != "docker" and modes:
        exported = data_mode.guarded_modes(config)
        guard = [runtime.marker(data_mode.MARKER, exported)]  # type: ignore[attr-defined]
    ha = {service for service, mode in modes.items() if mode == "ha"}
    for service, (settings_of, self_hosted, external) in BACKENDS.items():
        settings = settings_of(config)
        if service in ha:
            continue
        if settings.mode == "self-hosted":
            component = self_hosted(f"{name}-{service}", settings, runtime, config.registry.mirror, depends_on=guard)
            workloads.append(component.workload)
            internal[service] = component.spec.address
            endpoints[service] = component.endpoint
        else:
            endpoints[service] = external(settings)
    if "postgres" in ha:
        postgres = HighlyAvailablePostgres(f"{name}-postgres", ha_postgres_args(config, endpoints["object-store"]),
                                           runtime, depends_on=guard)  # type: ignore[arg-type]
        workloads += postgres.workloads
        internal["postgres"] = postgres.address
        endpoints["postgres"] = postgres.endpoint
    if "redis" in ha:
        redis = HighlyAvailableRedis(f"{name}-redis", ha_redis_args(config), runtime,  # type: ignore[arg-type]
                                     depends_on=guard)
        workloads += redis.workloads
        internal["redis"] = redis.address
        endpoints["redis"] = redis.endpoint
    return DataServices(
        DataEndpoints(endpoints["postgres"], endpoints["redis"], endpoints["object-store"]), workloads, internal,
        exported,
    )


def ha_postgres_args(config: StackConfig, object_store: ObjectStoreEndpoint) -> HaPostgresArgs:
    from components.kubernetes.sizing import preset

    ha, pg = config.self_hosted, config.postgres
    sizes = preset(config.size)
    connections = budget.budget(config)
    return HaPostgresArgs(
        user=pg.user, database=pg.database, plugin_database=pg.plugin_database,
        max_connections=pg.max_connections or MAX_CONNECTIONS,
        instances=ha.postgres_instances, synchronous_replicas=ha.synchronous_replicas,
        pooler_instances=ha.pooler_instances,
        clients=connections.total, usable_connections=connections.usable or MAX_CONNECTIONS,
        storage=sizes.volume("postgres-data"), resources=sizes.of("postgres").resources.manifest(),
        require_zones=sizes.spread == "zones",
        install_operators=ha.install_operators, operator_namespace=ha.operator_namespace,
        cnpg_chart_version=ha.cnpg_chart_version, barman_cloud_chart_version=ha.barman_cloud_chart_version,
        backups=object_store if ha.backups else None, backup_retention=ha.backup_retention,
        api_server_cidrs=tuple(ha.api_server_cidrs),
        protect=config.size == "production", retain_on_delete=config.kubernetes.keep_data_on_destroy,
    )


def ha_redis_args(config: StackConfig) -> HaRedisArgs:
    from components.kubernetes.sizing import preset

    ha, redis = config.self_hosted, config.redis
    sizes = preset(config.size)
    return HaRedisArgs(
        db=redis.db, broker_db=redis.broker_db, agent_db=redis.agent_db,
        instances=ha.redis_instances, sentinels=ha.redis_sentinels,
        storage=sizes.volume("redis-data"), resources=sizes.of("redis").resources.manifest(),
        require_zones=sizes.spread == "zones",
        install_operator=ha.install_operators, operator_namespace=ha.redis_operator_namespace,
        chart_version=ha.redis_operator_chart_version,
        protect=config.size == "production", retain_on_delete=config.kubernetes.keep_data_on_destroy,
    )


def self_hosted_problems(config: StackConfig, target: str) -> list[str]:
    """Cloud targets run managed data services (or external ones the user runs), never in-cluster pods."""
    sections = (("postgres", config.postgres), ("redis", config.redis), ("objectStorage", config.object_storage))
    return [f"{key}.mode: target {target} uses managed services (or external ones you run); "
            f"set `pulumi config set --path {key}.mode managed`"
            for key, settings in sections if settings.mode == "self-hosted"]
