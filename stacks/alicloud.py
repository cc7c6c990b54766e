"""Target `alicloud`: Dify on Alibaba Cloud in the production shape of the Compute Nest service.

VPC across two zones (+ NAT) -> ACK managed cluster (Terway, RRSA) and node pool -> RDS PostgreSQL
(pgvector), Tair/Redis (standard), OSS, ACR EE (plugin namespace, Docker Hub mirrors) -> a CLB the
nginx Service reuses, with TLS -> an Alidns record. Dify itself is the `kubernetes` target's
rendering (`deploy_on_cluster`) with these data services and this entry.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
from components.alicloud.sdk import alicloud

from components import images, naming
from components.alicloud.cluster import AckCluster
from components.alicloud.dns import AlidnsName, record_name
from components.alicloud.entry import ClbEntry
from components.alicloud.monitoring import CloudMonitorAlarms, ContainerLogs
from components.alicloud.network import AlicloudNetwork
from components.alicloud.postgres import ManagedPostgres
from components.alicloud.redis import ManagedRedis
from components.alicloud.registry import AcrRegistry
from components.alicloud.storage import OssStorage
from components.alicloud import analyticdb
from components.alicloud.analyticdb import AnalyticdbSize, AnalyticdbVectors
from components.alicloud.tablestore import TablestoreVectors
from components.alicloud.volumes import EssdVolumes
from components.dify.concurrency import CONCURRENCY
from components.monitoring.exporters import HUB_IMAGES
from components.endpoints import DataEndpoints
from components.kubernetes_runtime import KubernetesRuntime
from components.object_store import external_object_store
from components.postgres import external_postgres
from components.redis import external_redis
from stacks import cloud_monitoring, data_mode
from stacks.config import RegistrySettings, StackConfig
from stacks.edge_alicloud import AlicloudEdge
from stacks.data import (CloudFacts, DataServices, endpoint_output, external_vector_store, ha_node_problem,
                         self_hosted_images, self_hosted_in_cluster, self_hosted_or_external, self_hosted_problems,
                         with_storage_class)
from stacks.kubernetes import deploy_on_cluster, user_destination, user_object_store, vector_store_destination
from components.kubernetes.network import ALIBABA_METADATA, Destination, Isolation
from components.workload import OBJECT_STORE, POSTGRES, REDIS, VECTOR_STORE

# Alibaba Cloud's own services inside a VPC (metadata, OSS internal endpoints, PrivateZone DNS).
ALIBABA_SERVICES = "100.64.0.0/10"
from stacks.loader import ConfigError
from stacks import restore_points
from stacks.settings_alicloud import LANDLOCK_IMAGE_TYPES, AlicloudSettings
from stacks import dr_alicloud


def check(config: StackConfig) -> None:
    """What the alicloud target cannot do, reported before any resource is declared."""
    ali = config.alicloud
    assert ali is not None
    problems = self_hosted_problems(config, "alicloud")
    if config.object_storage.mode == "managed" and config.object_storage.kind not in (None, "oss"):
        problems.append("objectStorage.kind: target alicloud manages OSS; remove the key or set it to oss")
    if config.size == "production" and ali.rds.category == "Basic":
        problems.append("alicloud.rds.category: size production runs RDS HighAvailability (a standby in the "
                        "second zone); remove the key or set it to HighAvailability")
    if ali.acr.mirror_images and config.registry.mirror:
        problems.append("registry.mirror: target alicloud mirrors Docker Hub into its ACR EE instance; remove "
                        "registry.mirror, or set alicloud.acr.mirrorImages false to pull through your mirror")
    if ali.dns_zone is not None:
        if config.domain is None:
            problems.append("alicloud.dnsZone needs `domain` (the name to create in the zone)")
        else:
            try:
                record_name(config.domain, ali.dns_zone)
            except ValueError as exc:
                problems.append(f"alicloud.dnsZone: {exc}")
    k = config.kubernetes
    if ali.network_plugin == "flannel" and k.network_policies:
        problems.append("alicloud.networkPlugin: ACK enforces NetworkPolicies only with Terway; with flannel "
                        "Dify's pods would not be isolated from each other, the VPC or the metadata service. "
                        "Use terway (the default), or accept no isolation with `pulumi config set --path "
                        "kubernetes.networkPolicies false`")
    if k.entry != "loadBalancer":
        problems.append("kubernetes.entry: target alicloud enters through the CLB it creates; remove the key")
    if k.load_balancer.certificate is not None or k.tls is not None:
        problems.append("kubernetes.loadBalancer.certificate / kubernetes.tls: on target alicloud TLS ends at "
                        "the CLB; set alicloud.certificateId instead")
    if k.kubeconfig is not None or k.context is not None:
        given = "kubeconfig" if k.kubeconfig is not None else "context"
        problems.append(f"kubernetes.{given}: target alicloud connects to the cluster it creates; remove "
                        "kubernetes.kubeconfig and kubernetes.context")
    sizing = ali.sized(config.size)
    problems += ha_node_problem(config, ali.autoscaling.min_size if ali.autoscaling else sizing.node_count,
                                "alicloud.autoscaling.minSize" if ali.autoscaling else "alicloud.nodeCount")
    if ali.vpc_id is not None and "vpc_cidr" not in ali.model_fields_set:
        problems.append("alicloud.vpcCidr: with alicloud.vpcId give the VPC's CIDR block (the database and "
                        "Redis whitelists allow it)")
    if problems:
        project = pulumi.get_project()
        raise ConfigError("invalid stack configuration:\n  - " + "\n  - ".join(f"{project}:{p}" for p in problems))


def analyticdb_size(config: StackConfig) -> AnalyticdbSize:
    chosen, preset = config.vector_store.analyticdb, analyticdb.PRESETS[config.size]
    return AnalyticdbSize(
        engine_version=chosen.engine_version, category=preset.category,
        instance_spec=chosen.instance_spec or preset.instance_spec,
        segment_nodes=chosen.segment_nodes or preset.segment_nodes,
        storage_gb=chosen.storage_gb or preset.storage_gb,
    )


def pick_zones(ali: AlicloudSettings, instance_type: str, provider: pulumi.ProviderResource) -> list[str]:
    if ali.zones:
        return list(ali.zones)
    found = alicloud.get_zones(available_resource_creation="VSwitch", available_instance_type=instance_type,
                               opts=pulumi.InvokeOptions(provider=provider))
    ids = sorted(z.id for z in found.zones)
    if len(ids) < 2:
        raise ConfigError(f"{pulumi.get_project()}:alicloud.zones: region {ali.region} offers fewer than two zones "
                          f"for {instance_type}; set alicloud.zones or alicloud.nodeInstanceTypes")
    return ids[:2]


def mirrored_images(config: StackConfig) -> list[str]:
    """Every Docker Hub image the deployment pulls: Dify's, the edge's, and the db-init Job's."""
    return [
        *config.dify.release.images().values(),
        images.NGINX,
        images.SQUID,
        images.POSTGRES_PGVECTOR,
        *(HUB_IMAGES if config.monitoring.prometheus_operator else ()),
        *self_hosted_images(config),
    ]


def deploy(config: StackConfig) -> dict[str, object]:
    check(config)
    # An unconfirmed switch of a self-hosted data service's engine stops the program before anything.
    data_mode.check_switch(config)
    ali = config.alicloud
    assert ali is not None
    name = naming.prefix()
    sizing = ali.sized(config.size)
    if "agent" in config.dify.release.features and ali.node_image_type not in LANDLOCK_IMAGE_TYPES:
        pulumi.log.warn(
            f"alicloud.nodeImageType {ali.node_image_type}: its kernel (5.10) has no Landlock, so Dify's agent "
            "local sandbox runs commands without path isolation. Use AliyunLinux4 or Ubuntu nodes, or turn "
            "the agent off with dify.features.agent false")
    provider = alicloud.Provider(f"{name}-alicloud", region=ali.region)
    on_cloud = pulumi.ResourceOptions(providers=[provider])
    zones = pick_zones(ali, sizing.node_instance_types[0], provider)

    network = AlicloudNetwork(f"{name}-network", ali, zones, opts=on_cloud)
    whitelist = [network.vpc_cidr] + ([ali.flannel_pod_cidr] if ali.flannel_pod_cidr else [])

    registry = AcrRegistry(f"{name}-registry", ali.acr, ali.region, sizing, network,
                           mirrored_images(config) if ali.acr.mirror_images else (), opts=on_cloud)
    if ali.acr.mirror_images:
        config = config.model_copy(update={"registry": RegistrySettings.model_validate({"mirror": registry.endpoint})})

    cluster = AckCluster(f"{name}-cluster", ali, sizing, network, config.kubernetes.namespace,
                         provider_depends_on=registry.ready, network_policies=config.kubernetes.network_policies,
                         opts=on_cloud)
    in_cluster = self_hosted_in_cluster(config)
    app_provider: k8s.Provider = cluster.provider
    min_volume: Optional[str] = None
    if in_cluster:
        essd = EssdVolumes(f"{name}-volumes", provider=cluster.provider, production=sizing.production, opts=on_cloud)
        config = with_storage_class(config, essd.name)
        min_volume = essd.min_volume
        # Dify and its data services are declared once the class their volumes ask for exists.
        app_provider = k8s.Provider(f"{name}-k8s-app", kubeconfig=cluster.kubeconfig,
                                    namespace=config.kubernetes.namespace,
                                    opts=pulumi.ResourceOptions(parent=cluster, depends_on=[essd.storage_class]))

    postgres: Optional[ManagedPostgres] = None
    internal: dict[str, object] = {}
    if config.postgres.mode == "managed":
        postgres = ManagedPostgres(f"{name}-postgres", config.postgres, ali.rds, sizing, network, whitelist,
                                   vector_database=config.pgvector_database, opts=on_cloud)
        pg_endpoint = postgres.endpoint
        internal["postgres"] = pulumi.Output.concat(postgres.host, ":", postgres.port.apply(str))
    else:
        pg_endpoint = (external_postgres(config.postgres, config.pgvector_database)
                       if config.postgres.mode == "external" else None)
    redis: Optional[ManagedRedis] = None
    if config.redis.mode == "managed":
        redis = ManagedRedis(f"{name}-redis", config.redis, ali.kvstore, sizing, network, whitelist, opts=on_cloud)
        redis_endpoint = redis.endpoint
        internal["redis"] = pulumi.Output.concat(redis.host, ":6379")
    else:
        redis_endpoint = external_redis(config.redis) if config.redis.mode == "external" else None
    bucket: pulumi.Input[Optional[str]] = None
    storage: Optional[OssStorage] = None
    if config.object_storage.mode == "managed":
        storage = OssStorage(f"{name}-files", ali.region, sizing, config.object_storage.bucket,
                             versioned=dr_alicloud.versioned(config, sizing.production), opts=on_cloud)
        store_endpoint = storage.endpoint
        bucket = storage.bucket.bucket
        internal["object-store"] = storage.endpoint_url
    else:
        store_endpoint = (external_object_store(config.object_storage) if config.object_storage.mode == "external"
                          else None)
        bucket = config.object_storage.bucket
    vpc = network.vpc_cidr
    kind = config.vector_store.kind
    vector_outputs: dict[str, object] = {"kind": kind}
    vector_destinations: dict[str, Destination] = {}
    analyticdb_id: Optional[pulumi.Output[str]] = None
    if kind == "analyticdb":
        adb = AnalyticdbVectors(
            f"{name}-vectors", analyticdb_size(config), namespace=config.vector_store.analyticdb.namespace,
            network=network, whitelist=whitelist, production=sizing.production,
            max_connections=CONCURRENCY[config.size].pgvector_pool, opts=on_cloud)
        vector_endpoint = adb.endpoint
        internal["vector-store"] = pulumi.Output.concat(adb.host, ":", adb.port.apply(str))
        vector_outputs.update(instanceId=adb.instance.id, host=adb.host)
        analyticdb_id = adb.instance.id
        vector_destinations[VECTOR_STORE] = Destination(adb.port, (vpc,))
    elif kind == "tablestore":
        ots = TablestoreVectors(f"{name}-vectors", instance_type=config.vector_store.tablestore.instance_type,
                                region=ali.region, network=network, production=sizing.production, opts=on_cloud)
        vector_endpoint = ots.endpoint
        internal["vector-store"] = ots.url
        vector_outputs.update(instanceName=ots.instance.name, endpoint=ots.url)
        # The VPC endpoint answers inside the VPC or in Alibaba's service range.
        vector_destinations[VECTOR_STORE] = Destination(443, (vpc, ALIBABA_SERVICES), excepted=(ALIBABA_METADATA,))
    else:
        vector_endpoint = external_vector_store(config.vector_store)
        found = vector_store_destination(config, vpc)
        if found is not None:
            vector_destinations[VECTOR_STORE] = found
    isolation = Isolation(
        # Terway: pods take addresses from the VPC's pod vSwitches; Flannel: its own pod range.
        cluster_ranges=(vpc, ali.service_cidr, *([ali.flannel_pod_cidr] if ali.flannel_pod_cidr else []),
                        ALIBABA_SERVICES),
        metadata=(ALIBABA_METADATA,),
        # Managed CoreDNS answers from outside the cluster's pods, at addresses in the VPC.
        dns_addresses=(vpc,),
        # The self-hosted services are workloads here, reached inside the namespace.
        external={service: destination for service, destination in {
            POSTGRES: (Destination(postgres.endpoint.port, (vpc,)) if postgres is not None
                       else user_destination(config.postgres.host, config.postgres.port, vpc)),
            REDIS: (Destination(6379, (vpc,)) if config.redis.mode == "managed"
                    else user_destination(config.redis.host, config.redis.port, vpc)),
            OBJECT_STORE: (Destination(443, (ALIBABA_SERVICES,), excepted=(ALIBABA_METADATA,))
                           if config.object_storage.mode == "managed"
                           else user_object_store(config.object_storage.endpoint, vpc)),
            **vector_destinations,
        }.items() if service not in in_cluster},
    )

    if config.postgres.mode == "external" and config.restore_points.enabled:
        pulumi.log.warn("restorePoints.enabled: postgres.mode external takes no restore point before migrations; "
                        "back up your server with its own tooling before changing dify.version")
    points = restore_points.planned(config, name) if postgres is not None else []
    backups = postgres.backups(points) if postgres is not None else []
    disaster_recovery = dr_alicloud.deploy(config, name=name, storage=storage, postgres=postgres,
                                           production=sizing.production, multi_zone=sizing.multi_zone_data)

    def data(runtime: KubernetesRuntime) -> DataServices:
        workloads: list[pulumi.Resource] = []
        if postgres is not None:
            # Dify's migration (and every service that uses data) waits for this Job, and for the
            # backup of this release (the plugin daemon migrates its own database too).
            workloads.append(runtime.run(postgres.init_spec(config.registry.mirror), depends_on=postgres.ready,
                                         parent=postgres))
            if config.restore_points.enabled:
                workloads.append(backups[-1])
        if in_cluster:
            # The self-hosted services run beside Dify (single pods or replicated engines), the
            # others are the managed or external ones above; the volume servers' groups are the zones.
            services = self_hosted_or_external(name, config, runtime, CloudFacts(
                managed={"postgres": pg_endpoint, "redis": redis_endpoint, "object-store": store_endpoint,
                         "vector-store": vector_endpoint},
                zones=tuple(zones), api_server_cidrs=(vpc,)))
            return DataServices(services.endpoints, workloads + services.workloads, {**internal, **services.internal},
                                services.modes)
        return DataServices(DataEndpoints(pg_endpoint, redis_endpoint, store_endpoint,  # type: ignore[arg-type]
                                          vector_endpoint), workloads, internal)  # type: ignore[arg-type]

    entry = ClbEntry(f"{name}-entry", ali, sizing, zones, opts=on_cloud)
    outputs = deploy_on_cluster(config, app_provider, entry=entry.entry, data=data, name=name,
                                isolation=isolation, min_volume=min_volume)

    alarms = monitor(config, name, cluster, postgres, redis, entry, outputs, on_cloud,
                     analyticdb_instance_id=analyticdb_id)
    address = entry.address
    scheme = "https" if ali.certificate_id else "http"
    url = (pulumi.Output.from_input(f"{scheme}://{config.domain}") if config.domain
           else address.apply(lambda a: f"{scheme}://{a}"))
    result: dict[str, object] = {
        **outputs,
        "difyUrl": url,
        "installUrl": url.apply(lambda u: f"{u}/install"),
        "entryAddress": address,
        "loadBalancerAddress": address,
        "loadBalancerId": entry.load_balancer.id,
        "region": ali.region,
        "zones": zones,
        "clusterId": cluster.cluster_id,
        "kubeconfig": cluster.kubeconfig,
        "postgresEndpoint": endpoint_output("postgres", internal, pg_endpoint, outputs),
        "redisEndpoint": endpoint_output("redis", internal, redis_endpoint, outputs),
        "bucket": bucket,
        "vectorStore": vector_outputs,
        "registry": {
            "endpoint": registry.endpoint,
            "instanceId": registry.instance_id,
            "pluginNamespace": f"{registry.endpoint}/{ali.acr.plugin_namespace}",
            "mirrors": registry.mirrors,
        },
        # The backup set of each restore point (`aliyun rds DescribeBackups --BackupId`), for a roll-back.
        "restorePoints": [{**p.output(), "backupId": b.backup_id} for p, b in zip(points, backups)],
    }
    if disaster_recovery is not None:
        result["disasterRecovery"] = disaster_recovery
    if alarms is not None:
        result["alarmContactGroup"] = alarms.group.alarm_contact_group_name
    edge = AlicloudEdge(config, name, address, on_cloud)
    result.update(edge.outputs())
    target, kind = edge.record(address)
    if config.domain and ali.dns_zone:
        record = AlidnsName(f"{name}-dns", config.domain, ali.dns_zone, target, kind=kind, opts=on_cloud)
        result["dnsRecord"] = record.record.id
    elif config.domain and kind == "CNAME":
        # Create it at your DNS provider: `<domain> CNAME <value>`.
        result["cnameRecord"] = pulumi.Output.from_input(target).apply(lambda t: f"{config.domain} CNAME {t}")
    elif config.domain:
        # What Compute Nest prints when it manages no DNS zone: add it to /etc/hosts, or create
        # the record at your DNS provider.
        result["hostsLine"] = address.apply(lambda a: f"{a} {config.domain}")
    return result


def monitor(config: StackConfig, name: str, cluster: AckCluster, postgres: Optional[ManagedPostgres],
            redis: Optional[ManagedRedis], entry: ClbEntry, outputs: dict[str, object],
            opts: pulumi.ResourceOptions, analyticdb_instance_id: Optional[pulumi.Input[str]] = None,
            ) -> Optional[CloudMonitorAlarms]:
    """Container logs to SLS (when on) and the CloudMonitor alarms (unless monitoring.alarms is false)."""
    ali = config.alicloud
    assert ali is not None
    if cloud_monitoring.container_logs(config):
        ContainerLogs(f"{name}-logs", cluster_id=cluster.cluster_id,
                      retention_days=config.monitoring.log_retention_days,
                      namespaces=[outputs["namespace"], outputs["sandboxNamespace"]],  # type: ignore[list-item]
                      provider=cluster.provider, opts=opts)
    if not config.monitoring.alarms:
        return None
    return CloudMonitorAlarms(
        f"{name}-alarms", thresholds=cloud_monitoring.alicloud_thresholds(config, layer7=ali.certificate_id is not None),
        contact_name=config.monitoring.alert_contact_name or name[:40], alert_email=config.monitoring.alert_email,
        rds_instance_id=postgres.instance.id if postgres is not None else None,
        kvstore_instance_id=redis.instance.id if redis is not None else None,
        load_balancer_id=entry.load_balancer.id, analyticdb_instance_id=analyticdb_instance_id, opts=opts)
