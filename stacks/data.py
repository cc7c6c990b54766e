"""Picks the backend of each data service from its mode; every backend hands out the same endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import pulumi

from urllib.parse import urlsplit

from components.dump_restore_point import DumpRestorePoint, restore_point_spec
from components.endpoints import DataEndpoints, ObjectStoreEndpoint, VectorStoreEndpoint
from components.object_store import DEFAULT_BUCKET, DEFAULT_PLUGIN_BUCKET, SelfHostedObjectStore, external_object_store
from components.object_store_ha import HaObjectStoreArgs, HighlyAvailableObjectStore
from components.postgres import MAX_CONNECTIONS, SelfHostedPostgres, external_postgres
from components.postgres_ha import HaPostgresArgs, HighlyAvailablePostgres
from components.redis import SelfHostedRedis, external_redis
from components.redis_ha import HaRedisArgs, HighlyAvailableRedis
from components.runtime import Runtime
from stacks import budget, data_mode
from stacks.config import StackConfig
from stacks.loader import ConfigError
from stacks.settings_ops import VectorStoreSettings


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
    """Data services for targets without managed ones (Docker, an existing cluster)."""
    workloads: list[pulumi.Resource] = []
    internal: dict[str, str] = {}
    endpoints: dict[str, Any] = {}
    modes = data_mode.current_modes(config)
    ha = {service for service, mode in modes.items() if mode == "ha"}
    deployed: dict[str, pulumi.Resource] = {}
    for service, (settings_of, self_hosted, external) in BACKENDS.items():
        settings = settings_of(config)
        if service in ha:
            continue
        if settings.mode == "self-hosted":
            component = self_hosted(f"{name}-{service}", settings, runtime, config.registry.mirror)
            workloads.append(component.workload)
            deployed[service] = component.workload
            internal[service] = component.spec.address
            endpoints[service] = component.endpoint
        else:
            endpoints[service] = external(settings)
    if "object-store" in ha:
        store = HighlyAvailableObjectStore(f"{name}-object-store", ha_object_store_args(config),
                                           runtime)  # type: ignore[arg-type]
        workloads += store.workloads
        deployed["object-store"] = store.release
        internal["object-store"] = store.address
        endpoints["object-store"] = store.endpoint
    if "postgres" in ha:
        # Backups archive WAL from the start: into a store (and bucket) that is up.
        store_first = [deployed["object-store"]] if config.self_hosted.backups and "object-store" in deployed else []
        postgres = HighlyAvailablePostgres(f"{name}-postgres", ha_postgres_args(config, endpoints["object-store"]),
                                           runtime, depends_on=store_first)  # type: ignore[arg-type]
        workloads += postgres.workloads
        deployed["postgres"] = postgres
        internal["postgres"] = postgres.address
        endpoints["postgres"] = postgres.endpoint
    if "redis" in ha:
        redis = HighlyAvailableRedis(f"{name}-redis", ha_redis_args(config), runtime)  # type: ignore[arg-type]
        workloads += redis.workloads
        internal["redis"] = redis.address
        endpoints["redis"] = redis.endpoint
    data = DataEndpoints(endpoints["postgres"], endpoints["redis"], endpoints["object-store"],
                         external_vector_store(config.vector_store))
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
    return DataServices(data, workloads, internal, modes)


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


def ha_object_store_args(config: StackConfig) -> HaObjectStoreArgs:
    from components.kubernetes.sizing import preset

    ha, store = config.self_hosted, config.object_storage
    return HaObjectStoreArgs(
        bucket=store.bucket or DEFAULT_BUCKET, plugin_bucket=store.plugin_bucket or DEFAULT_PLUGIN_BUCKET,
        chart_version=ha.object_store_chart_version, zones=tuple(ha.object_store_zones),
        volume_servers=ha.object_store_volume_servers, filers=ha.object_store_filers,
        gateways=ha.object_store_gateways, storage=ha.object_store_volume_size,
        require_zones=preset(config.size).spread == "zones", mirror=config.registry.mirror,
        protect=config.size == "production", retain_on_delete=config.kubernetes.keep_data_on_destroy,
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
