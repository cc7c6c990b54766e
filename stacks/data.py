"""Picks the backend of each data service from its mode; every backend hands out the same endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import pulumi

from urllib.parse import urlsplit

from components import images
from components.dump_restore_point import DumpRestorePoint, restore_point_spec
from components.endpoints import DataEndpoints, ObjectStoreEndpoint, VectorStoreEndpoint
from components.object_store import DEFAULT_BUCKET, DEFAULT_PLUGIN_BUCKET, SelfHostedObjectStore, external_object_store
from components.object_store_ha import MASTERS, HaObjectStoreArgs, HighlyAvailableObjectStore
from components.postgres import MAX_CONNECTIONS, SelfHostedPostgres, external_postgres, vector_database_spec
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


# service -> (its settings in the config, self-hosted component (name, config, runtime), external endpoint)
BACKENDS: dict[str, tuple[Callable[[StackConfig], Any], Callable[[str, StackConfig, Runtime], Any],
                          Callable[[StackConfig], Any]]] = {
    "postgres": (lambda c: c.postgres,
                 lambda n, c, r: SelfHostedPostgres(n, c.postgres, r, c.registry.mirror,
                                                    vector_database=c.pgvector_database),
                 lambda c: external_postgres(c.postgres, c.pgvector_database)),
    "redis": (lambda c: c.redis, lambda n, c, r: SelfHostedRedis(n, c.redis, r, c.registry.mirror),
              lambda c: external_redis(c.redis)),
    "object-store": (lambda c: c.object_storage,
                     lambda n, c, r: SelfHostedObjectStore(n, c.object_storage, r, c.registry.mirror),
                     lambda c: external_object_store(c.object_storage)),
}


@dataclass(frozen=True)
class CloudFacts:
    """What a cloud target knows and provides beside the data services it self-hosts: the endpoints of
    the ones it manages (by service), its nodes' zones and where pods reach the Kubernetes API server."""

    managed: dict[str, Any]
    zones: tuple[str, ...] = ()
    api_server_cidrs: tuple[pulumi.Input[str], ...] = ()


def self_hosted_or_external(name: str, config: StackConfig, runtime: Runtime,
                            cloud: Optional[CloudFacts] = None) -> DataServices:
    """Data services as config says: self-hosted in the cluster (or on the Docker host), external, or
    (on a cloud target, `cloud`) the managed ones it hands in."""
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
            component = self_hosted(f"{name}-{service}", config, runtime)
            workloads.append(component.workload)
            deployed[service] = component.workload
            internal[service] = component.spec.address
            endpoints[service] = component.endpoint
            if service == "postgres" and component.endpoint.vector_database:
                # pgvector's own database; the restore point dumps it, so it waits for it too.
                deployed["vector-database"] = runtime.run(
                    vector_database_spec(component.endpoint, config.registry.mirror),
                    depends_on=[component.workload], parent=component)
                workloads.append(deployed["vector-database"])
        elif cloud is not None and service in cloud.managed:
            endpoints[service] = cloud.managed[service]
        else:
            endpoints[service] = external(config)
    if "object-store" in ha:
        store = HighlyAvailableObjectStore(f"{name}-object-store", ha_object_store_args(config, cloud),
                                           runtime)  # type: ignore[arg-type]
        workloads += store.workloads
        deployed["object-store"] = store.release
        internal["object-store"] = store.address
        endpoints["object-store"] = store.endpoint
    if "postgres" in ha:
        # Backups archive WAL from the start: into a store (and bucket) that is up.
        store_first = [deployed["object-store"]] if config.self_hosted.backups and "object-store" in deployed else []
        postgres = HighlyAvailablePostgres(f"{name}-postgres",
                                           ha_postgres_args(config, endpoints["object-store"], cloud),
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
                         cloud.managed.get("vector-store") if cloud is not None
                         else external_vector_store(config.vector_store))
    if cloud is None and config.restore_points.enabled and config.postgres.mode == "external":
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
                                 after=[deployed[s] for s in ("postgres", "vector-database", "object-store")
                                        if s in deployed])
        workloads.append(point.workload)
    return DataServices(data, workloads, internal, modes)


def ha_postgres_args(config: StackConfig, object_store: ObjectStoreEndpoint,
                     cloud: Optional[CloudFacts] = None) -> HaPostgresArgs:
    from components.kubernetes.sizing import preset

    ha, pg = config.self_hosted, config.postgres
    sizes = preset(config.size)
    connections = budget.budget(config)
    return HaPostgresArgs(
        user=pg.user, database=pg.database, plugin_database=pg.plugin_database,
        vector_database=config.pgvector_database,
        max_connections=pg.max_connections or MAX_CONNECTIONS,
        instances=ha.postgres_instances, synchronous_replicas=ha.synchronous_replicas,
        pooler_instances=ha.pooler_instances,
        clients=connections.total, usable_connections=connections.usable or MAX_CONNECTIONS,
        storage=sizes.volume("postgres-data"), resources=sizes.of("postgres").resources.manifest(),
        require_zones=sizes.spread == "zones",
        install_operators=ha.install_operators, operator_namespace=ha.operator_namespace,
        cnpg_chart_version=ha.cnpg_chart_version, barman_cloud_chart_version=ha.barman_cloud_chart_version,
        backups=object_store if ha.backups else None, backup_retention=ha.backup_retention,
        api_server_cidrs=tuple(ha.api_server_cidrs) or (cloud.api_server_cidrs if cloud is not None else ()),
        protect=config.size == "production", retain_on_delete=config.kubernetes.keep_data_on_destroy,
    )


def ha_object_store_args(config: StackConfig, cloud: Optional[CloudFacts] = None) -> HaObjectStoreArgs:
    from components.kubernetes.sizing import preset

    ha, store = config.self_hosted, config.object_storage
    return HaObjectStoreArgs(
        bucket=store.bucket or DEFAULT_BUCKET, plugin_bucket=store.plugin_bucket or DEFAULT_PLUGIN_BUCKET,
        chart_version=ha.object_store_chart_version,
        zones=tuple(ha.object_store_zones) or (cloud.zones if cloud is not None else ()),
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
    """A self-hosted PostgreSQL on a cloud target keeps its backups and restore points in an S3 store it
    reaches with keys: the self-hosted object store. The managed bucket is S3 reached through the
    workloads' IRSA roles (aws), which the PostgreSQL pods and the restore-point Job do not have, or OSS
    (alicloud), which Barman Cloud and the restore point's S3 client do not speak."""
    if config.postgres.mode != "self-hosted" or config.object_storage.mode != "managed":
        return []
    wants = (["selfHosted.backups: base backups and WAL of the self-hosted PostgreSQL"]
             if config.self_hosted.high_availability and config.self_hosted.backups else [])
    wants += (["restorePoints.enabled: the restore points of the self-hosted PostgreSQL"]
              if config.restore_points.enabled else [])
    bucket = "S3 bucket, reached through IRSA roles only" if target == "aws" else "OSS bucket"
    return [f"{what} go to an S3 store with keys, and target {target}'s managed {bucket}; set "
            "objectStorage.mode self-hosted too (with selfHosted.highAvailability it is a replicated "
            f"store), or `pulumi config set --path {what.split(':')[0]} false` and back up otherwise"
            for what in wants]


def self_hosted_in_cluster(config: StackConfig) -> set[str]:
    """The data services a cloud target runs in its cluster (`postgres`, `redis`, `object-store`)."""
    return set(data_mode.current_modes(config))


def self_hosted_images(config: StackConfig) -> list[str]:
    """The Docker Hub images the self-hosted data services pull (a cloud target mirrors them)."""
    found = []
    if config.redis.mode == "self-hosted" and not config.self_hosted.high_availability:
        found.append(images.REDIS)
    if config.object_storage.mode == "self-hosted":
        found.append(images.SEAWEEDFS)
    if config.postgres.mode == "self-hosted" and config.restore_points.enabled:
        found.append(images.AWS_CLI)
    return found


def with_storage_class(config: StackConfig, storage_class: str) -> StackConfig:
    """The cloud's class for the data services' volumes, unless kubernetes.storageClass names another."""
    if config.kubernetes.storage_class is not None:
        return config
    return config.model_copy(update={"kubernetes": config.kubernetes.model_copy(
        update={"storage_class": storage_class})})


def _apart(config: StackConfig) -> int:
    """The most pods of one replicated engine that must each run on a node of its own: SeaweedFS's
    masters, filers and gateways always; in production also the PostgreSQL instances and the Redis
    servers and sentinels (required anti-affinity)."""
    ha, needed = config.self_hosted, []
    if config.object_storage.mode == "self-hosted":
        needed += [MASTERS, ha.object_store_filers, ha.object_store_gateways]
    if config.size == "production" and config.postgres.mode == "self-hosted":
        needed.append(ha.postgres_instances)
    if config.size == "production" and config.redis.mode == "self-hosted":
        needed += [ha.redis_instances, ha.redis_sentinels]
    return max(needed, default=0)


def ha_node_problem(config: StackConfig, nodes: int, key: str) -> list[str]:
    """The replicated engines' pods that must run apart need as many nodes as the cluster may shrink to."""
    if not config.self_hosted.high_availability:
        return []
    needed = _apart(config)
    if nodes >= needed:
        return []
    return [f"{key}: the replicated data services place {needed} replicas each on a node of its own, and the "
            f"cluster may have only {nodes} nodes; set {key} to {needed} or more (or lower the selfHosted "
            "instance counts)"]


def endpoint_output(service: str, internal: dict[str, Any], endpoint: Any, outputs: dict[str, Any]) -> Any:
    """host:port of a data service for the stack's outputs: managed, external or in the cluster."""
    if service in internal:
        return internal[service]
    if endpoint is not None:
        return f"{endpoint.host}:{endpoint.port}"
    return outputs["internalEndpoints"].get(service)
