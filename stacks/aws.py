"""Target `aws`: Dify on EKS with RDS PostgreSQL (pgvector), ElastiCache, S3, ECR, an ALB with ACM TLS
and a Route 53 record.

VPC across 2-3 zones (or an existing one) -> EKS (access entries, IRSA, VPC CNI with network policy)
and a managed node group -> the AWS Load Balancer Controller -> RDS, ElastiCache and S3 (or external
services you run) -> Dify, rendered by the `kubernetes` target's code (`deploy_on_cluster`), its
data pods running as a service account whose IAM role reaches the one bucket -> an ALB from the
nginx Ingress -> an alias record in the hosted zone.
"""

from __future__ import annotations

from typing import Optional

import pulumi
from components.aws.sdk import aws

from components import naming
from components.aws.cluster import EksCluster, NodeGroupSize
from components.aws.entry import ValidatedCertificate, alb_entry, alias_record, zone_for
from components.aws.autoscaling import ClusterScaling
from components.aws.block_storage import EbsVolumes
from components.aws.load_balancer_controller import LoadBalancerController
from components.aws.monitoring import AlbTargets, CloudWatchAlarms, ContainerInsights, OpenSearchTarget
from components.aws.network import Network
from components.aws.postgres import RdsPostgres
from components.aws.redis import ElastiCacheRedis
from components.aws.registry import EcrRegistry
from components.aws.opensearch import DomainSize, OpenSearchDomain
from components.aws.sizing import OPENSEARCH, PRESETS, AwsPreset
from components.aws.storage import S3Storage
from components.dify.nginx import HEALTH_PATH
from components.endpoints import DataEndpoints
from components.kubernetes_runtime import KubernetesRuntime
from components.object_store import external_object_store
from components.postgres import external_postgres
from components.redis import external_redis
from stacks import cloud_monitoring, data_mode, pools
from stacks.config import RegistrySettings, StackConfig
from stacks.edge_aws import AwsEdge
from stacks.data import (CloudFacts, DataServices, endpoint_output, external_vector_store, ha_node_problem,
                         self_hosted_in_cluster, self_hosted_or_external, self_hosted_problems, with_storage_class)
from stacks.kubernetes import deploy_on_cluster, user_destination, user_object_store, vector_store_destination
from components.kubernetes.network import Destination, Isolation
from components.workload import OBJECT_STORE, POSTGRES, REDIS, VECTOR_STORE
from stacks.loader import ConfigError
from stacks import restore_points
from stacks.settings_aws import AwsSettings
from stacks import dr_aws
from components.aws import iam
from components.aws.storage import probe_statements, workload_statements

# IRSA role -> the workloads whose service accounts it trusts: the api's reads and writes the bucket,
# the plugin daemon's likewise but apart from the api's, and beat's and the migration's may only
# HeadBucket, which Dify's S3 storage calls when any of its processes starts. The other workloads
# (web, nginx, the sandboxes, the proxies, the other Jobs) have no cloud role.
# The workload behind the Ingress (its Service and the Ingress share its name, its port is named http).
ENTRY_WORKLOAD = "nginx"
ROLES = {"dify-api": ("api", "worker", "api-websocket"), "dify-plugin-daemon": ("plugin-daemon",),
         "dify-startup": ("beat", "migrate")}


def workload_roles(config: StackConfig) -> dict[str, tuple[str, ...]]:
    """ROLES with `worker` standing for every worker pool's service account."""
    return {role: tuple(name for w in workloads for name in (pools.worker_services(config) if w == "worker" else (w,)))
            for role, workloads in ROLES.items()}


def node_group_size(settings: AwsSettings, preset: AwsPreset) -> NodeGroupSize:
    return NodeGroupSize(
        instance_types=tuple(settings.node_instance_types or preset.node_instance_types),
        min_size=settings.node_min_size or preset.node_min,
        desired_size=settings.node_desired_size or preset.node_desired,
        max_size=settings.node_max_size or preset.node_max,
        disk_gb=settings.node_disk_gb,
    )


def domain_size(config: StackConfig) -> DomainSize:
    chosen, preset = config.vector_store.opensearch, OPENSEARCH[config.size]
    return DomainSize(
        engine_version=chosen.engine_version,
        instance_type=chosen.instance_type or preset.instance_type,
        instance_count=chosen.instance_count or preset.instance_count,
        volume_gb=chosen.volume_gb or preset.volume_gb,
        dedicated_master_type=preset.dedicated_master_type,
        zone_awareness=preset.zone_awareness,
    )


def check(config: StackConfig) -> None:
    """What the aws target cannot do, reported before any resource is declared."""
    settings = config.aws
    assert settings is not None
    problems = self_hosted_problems(config, "aws")
    if config.object_storage.mode == "managed" and config.object_storage.kind not in (None, "s3"):
        problems.append("objectStorage.kind: target aws manages S3; remove the key or set it to s3")
    if config.object_storage.mode == "managed" and config.object_storage.plugin_bucket not in (
            None, config.object_storage.bucket):
        problems.append("objectStorage.pluginBucket: target aws keeps plugin packages in the one bucket it "
                        "manages; remove the key")
    if settings.pull_through_cache is not None and config.registry.mirror:
        problems.append("registry.mirror: aws.pullThroughCache pulls Docker Hub images through ECR; remove "
                        "registry.mirror, or remove aws.pullThroughCache to pull through your mirror")
    if settings.hosted_zone is not None:
        if config.domain is None:
            problems.append("aws.hostedZone needs `domain` (the name to create in the zone)")
        else:
            try:
                zone_for(config.domain, settings.hosted_zone)
            except ValueError as exc:
                problems.append(f"aws.hostedZone: {exc}; set `domain` to a name in the zone")
    k = config.kubernetes
    if "entry" in k.model_fields_set or "ingress" in k.model_fields_set or "load_balancer" in k.model_fields_set:
        problems.append("kubernetes.entry / kubernetes.ingress / kubernetes.loadBalancer: target aws enters "
                        "through the ALB it creates; remove them (aws.loadBalancerInternal and "
                        "aws.loadBalancerSourceRanges shape it)")
    if k.tls is not None:
        problems.append("kubernetes.tls: on target aws TLS ends at the ALB; set aws.hostedZone (a certificate "
                        "is issued) or aws.certificateArn instead")
    if k.kubeconfig is not None or k.context is not None:
        given = "kubeconfig" if k.kubeconfig is not None else "context"
        problems.append(f"kubernetes.{given}: target aws connects to the cluster it creates; remove "
                        "kubernetes.kubeconfig and kubernetes.context")
    nodes = node_group_size(settings, PRESETS[config.size])
    if not nodes.min_size <= nodes.desired_size <= nodes.max_size:
        problems.append(f"aws.nodeMinSize/nodeDesiredSize/nodeMaxSize: with size {config.size}'s defaults they "
                        f"give {nodes.min_size}/{nodes.desired_size}/{nodes.max_size}; min <= desired <= max must hold")
    problems += dr_aws.problems(config)
    problems += ha_node_problem(config, nodes.min_size, "aws.nodeMinSize")
    if (settings.vpc_id is not None and config.self_hosted.high_availability and config.size == "production"
            and config.object_storage.mode == "self-hosted" and len(config.self_hosted.object_store_zones) < 2):
        problems.append("selfHosted.objectStoreZones: with aws.vpcId the program does not know the nodes' zones; "
                        "list two or more (the zones of aws.privateSubnetIds), e.g. `pulumi config set --path "
                        "'selfHosted.objectStoreZones[0]' us-east-1a`")
    if problems:
        project = pulumi.get_project()
        raise ConfigError("invalid stack configuration:\n  - " + "\n  - ".join(f"{project}:{p}" for p in problems))


def vector_destination(config: StackConfig, domain: Optional[OpenSearchDomain],
                       vpc_cidr: pulumi.Input[str]) -> dict[str, Destination]:
    """The domain's interfaces sit in the private subnets: the VPC's range on 443."""
    if domain is not None:
        return {VECTOR_STORE: Destination(443, (vpc_cidr,))}
    found = vector_store_destination(config, vpc_cidr)
    return {VECTOR_STORE: found} if found is not None else {}


def pick_zones(settings: AwsSettings, provider: aws.Provider) -> list[str]:
    found = aws.get_availability_zones(
        state="available", filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
        opts=pulumi.InvokeOptions(provider=provider))
    names = sorted(found.names)
    if len(names) < settings.availability_zones:
        raise ConfigError(f"{pulumi.get_project()}:aws.availabilityZones: region {settings.region} offers "
                          f"{len(names)} zones; set aws.availabilityZones to {len(names)} or less")
    return names[:settings.availability_zones]


def deploy(config: StackConfig) -> dict[str, object]:
    check(config)
    # An unconfirmed switch of a self-hosted data service's engine stops the program before anything.
    data_mode.check_switch(config)
    settings = config.aws
    assert settings is not None
    name = naming.prefix()
    preset = PRESETS[config.size]
    production = preset.production
    provider_tags = {"tags": {"app": "dify", "managed-by": "pulumi", "dify-stack": pulumi.get_stack()}}
    provider = aws.Provider(f"{name}-aws", region=settings.region, default_tags=provider_tags)
    on_cloud = pulumi.ResourceOptions(providers=[provider])
    invoke = pulumi.InvokeOptions(provider=provider)
    identity = aws.get_caller_identity(opts=invoke)
    partition = aws.get_partition(opts=invoke).partition
    # An assumed-role session cannot hold an access entry; its role can.
    deployer = aws.iam.get_session_context(arn=identity.arn, opts=invoke).issuer_arn

    zones = [] if settings.existing_vpc else pick_zones(settings, provider)
    network = Network(
        f"{name}-network", zones=zones, vpc_cidr=settings.vpc_cidr,
        nat_per_zone=(settings.nat_gateways or ("perZone" if production else "single")) == "perZone",
        vpc_id=settings.vpc_id, private_subnet_ids=settings.private_subnet_ids,
        public_subnet_ids=settings.public_subnet_ids, opts=on_cloud)
    vpc = network.endpoint

    ptc = settings.pull_through_cache
    registry = EcrRegistry(f"{name}-registry", account=identity.account_id, region=settings.region,
                           partition=partition, docker_hub_credential_arn=ptc.docker_hub_credential_arn if ptc else None,
                           opts=on_cloud)
    if registry.mirror:
        config = config.model_copy(update={"registry": RegistrySettings.model_validate({"mirror": registry.mirror})})

    cluster = EksCluster(
        f"{name}-cluster", region=settings.region, partition=partition, version=settings.kubernetes_version,
        private_subnet_ids=vpc.private_subnet_ids, public_subnet_ids=vpc.public_subnet_ids,
        nodes=node_group_size(settings, preset), admin_arns=[deployer, *settings.cluster_admin_arns],
        api_access_cidrs=settings.api_access_cidrs, production=production,
        node_policy_statements=registry.node_statements,
        log_retention_days=config.monitoring.log_retention_days, opts=on_cloud)
    controller = LoadBalancerController(f"{name}-lbc", cluster, region=settings.region, partition=partition,
                                        vpc_id=vpc.vpc_id, opts=on_cloud)
    ClusterScaling(f"{name}-scaling", cluster, region=settings.region,
                   kubernetes_version=settings.kubernetes_version, opts=on_cloud)
    in_cluster = self_hosted_in_cluster(config)
    volumes: list[pulumi.Resource] = []
    if in_cluster:
        ebs = EbsVolumes(f"{name}-volumes", cluster_name=cluster.name, kubernetes_version=settings.kubernetes_version,
                         partition=partition, oidc_provider_arn=cluster.oidc_provider.arn,
                         issuer_url=cluster.issuer_url, provider=cluster.provider, production=production,
                         depends_on=[cluster.node_group], opts=on_cloud)
        volumes.append(ebs.storage_class)
        config = with_storage_class(config, ebs.name)
    # Dify's objects wait for the controller: its webhooks must answer before the Ingress is created,
    # and on destroy the Ingress (and so the ALB) goes before the controller.
    app_provider = cluster.provider_for(f"{name}-k8s-app", [*cluster.ready, controller.release, *volumes])

    internal: dict[str, object] = {}
    postgres: Optional[RdsPostgres] = None
    if config.postgres.mode == "managed":
        postgres = RdsPostgres(
            f"{name}-postgres", config.postgres, version=settings.postgres_version,
            instance_class=settings.rds_instance_class or preset.rds_instance_class,
            storage_gb=settings.rds_storage_gb or preset.rds_storage_gb,
            backup_retention_days=settings.backup_retention_days or preset.backup_retention_days,
            production=production, vpc_id=vpc.vpc_id, subnet_ids=vpc.private_subnet_ids,
            client_security_group_id=cluster.security_group_id, vector_database=config.pgvector_database,
            opts=on_cloud)
        pg_endpoint = postgres.endpoint
        internal["postgres"] = pulumi.Output.concat(postgres.host, ":5432")
    else:
        pg_endpoint = (external_postgres(config.postgres, config.pgvector_database)
                       if config.postgres.mode == "external" else None)
    redis: Optional[ElastiCacheRedis] = None
    if config.redis.mode == "managed":
        redis = ElastiCacheRedis(
            f"{name}-redis", config.redis, engine=settings.redis_engine,
            node_type=settings.redis_node_type or preset.cache_node_type, nodes=preset.cache_nodes,
            production=production, vpc_id=vpc.vpc_id, subnet_ids=vpc.private_subnet_ids,
            client_security_group_id=cluster.security_group_id, opts=on_cloud)
        redis_endpoint = redis.endpoint
        internal["redis"] = pulumi.Output.concat(redis.host, ":6379")
    else:
        redis_endpoint = external_redis(config.redis) if config.redis.mode == "external" else None
    storage: Optional[S3Storage] = None
    if config.object_storage.mode == "managed":
        storage = S3Storage(f"{name}-files", region=settings.region, production=production,
                            bucket_name=config.object_storage.bucket, versioned=dr_aws.versioned(config, production),
                            opts=on_cloud)
        store_endpoint = storage.endpoint
    else:
        store_endpoint = (external_object_store(config.object_storage) if config.object_storage.mode == "external"
                          else None)
    vectors: Optional[OpenSearchDomain] = None
    if config.vector_store.kind == "opensearch":
        vectors = OpenSearchDomain(
            f"{name}-vectors", domain_size(config), region=settings.region, production=production,
            vpc_id=vpc.vpc_id, subnet_ids=vpc.private_subnet_ids, client_security_group_id=cluster.security_group_id,
            opts=on_cloud)
        internal["vector-store"] = pulumi.Output.concat(vectors.host, ":443")
    vector_endpoint = vectors.endpoint if vectors is not None else external_vector_store(config.vector_store)
    s3_ranges = None
    if storage is not None:
        # S3's addresses in the region, as AWS publishes them (the prefix list of its gateway endpoint).
        s3_list = aws.ec2.get_managed_prefix_list_output(name=f"com.amazonaws.{settings.region}.s3",
                                                         opts=pulumi.InvokeOutputOptions(provider=provider))
        s3_ranges = s3_list.entries.apply(lambda entries: sorted(e.cidr for e in entries))
    isolation = Isolation(
        # VPC CNI: pods take VPC addresses, so the VPC holds pods, nodes and the API server's interfaces.
        cluster_ranges=(vpc.cidr, cluster.service_cidr), dns_addresses=(),
        identity=Destination(443, (), public=True),
        # The self-hosted services are workloads here, reached inside the namespace.
        external={service: destination for service, destination in {
            POSTGRES: (Destination(5432, (vpc.cidr,)) if postgres is not None
                       else user_destination(config.postgres.host, config.postgres.port, vpc.cidr)),
            REDIS: (Destination(6379, (vpc.cidr,)) if config.redis.mode == "managed"
                    else user_destination(config.redis.host, config.redis.port, vpc.cidr)),
            OBJECT_STORE: (Destination(443, s3_ranges) if s3_ranges is not None
                           else user_object_store(config.object_storage.endpoint, vpc.cidr)),
            **vector_destination(config, vectors, vpc.cidr),
        }.items() if service not in in_cluster},
    )

    disaster_recovery = dr_aws.deploy(config, name=name, account=identity.account_id, partition=partition,
                                      storage=storage, postgres=postgres, production=production)

    namespace = config.kubernetes.namespace
    trusted = workload_roles(config)
    roles: dict[str, aws.iam.Role] = {}
    bucket_policies = external_bucket_policies(config, partition)
    if storage is not None:
        bucket_policies = (storage.workload_policy, storage.probe_policy)
    if bucket_policies is not None:
        workload_policy, probe_policy = bucket_policies
        roles = {
            "dify-api": cluster.workload_role(f"{name}-dify-api", namespace, trusted["dify-api"],
                                              workload_policy,
                                              description="Dify api, worker, websocket: the Dify bucket"),
            "dify-plugin-daemon": cluster.workload_role(
                f"{name}-dify-plugin-daemon", namespace, trusted["dify-plugin-daemon"], workload_policy,
                description="Dify plugin daemon: the Dify bucket"),
            "dify-startup": cluster.workload_role(f"{name}-dify-startup", namespace, trusted["dify-startup"],
                                                  probe_policy,
                                                  description="Dify beat and migration: HeadBucket at start"),
        }
    if vectors is not None:
        # The api and worker sign their OpenSearch requests with the api's role (IRSA).
        if "dify-api" in roles:
            aws.iam.RolePolicy(f"{name}-dify-api-opensearch", role=roles["dify-api"].id, policy=vectors.client_policy,
                               opts=pulumi.ResourceOptions(parent=roles["dify-api"]))
        else:
            roles["dify-api"] = cluster.workload_role(f"{name}-dify-api", namespace, trusted["dify-api"],
                                                      vectors.client_policy,
                                                      description="Dify api, worker, websocket: the vector store")
        vectors.allow(roles["dify-api"])

    if config.postgres.mode == "external" and config.restore_points.enabled:
        pulumi.log.warn("restorePoints.enabled: postgres.mode external takes no restore point before migrations; "
                        "back up your server with its own tooling before changing dify.version")
    points = restore_points.planned(config, name) if postgres is not None else []
    snapshots = postgres.snapshots(points) if postgres is not None else []

    def data(runtime: KubernetesRuntime) -> DataServices:
        workloads: list[pulumi.Resource] = []
        if postgres is not None:
            # Dify's migration (and every service that uses data) waits for this Job, and for the
            # snapshot of this release (the plugin daemon migrates its own database too).
            workloads.append(runtime.run(postgres.init_spec(config.registry.mirror), parent=postgres))
            if config.restore_points.enabled:
                workloads.append(snapshots[-1])
        if in_cluster:
            # The self-hosted services run beside Dify (single pods or replicated engines), the
            # others are the managed or external ones above.
            services = self_hosted_or_external(name, config, runtime, CloudFacts(
                managed={"postgres": pg_endpoint, "redis": redis_endpoint, "object-store": store_endpoint,
                         "vector-store": vector_endpoint},
                zones=tuple(zones), api_server_cidrs=(vpc.cidr,)))
            return DataServices(services.endpoints, workloads + services.workloads, {**internal, **services.internal},
                                services.modes)
        return DataServices(DataEndpoints(pg_endpoint, redis_endpoint, store_endpoint,  # type: ignore[arg-type]
                                          vector_endpoint), workloads, internal)  # type: ignore[arg-type]

    zone = (aws.route53.get_zone(name=settings.hosted_zone, private_zone=False, opts=invoke)
            if settings.hosted_zone else None)
    certificate_arn: Optional[pulumi.Input[str]] = settings.certificate_arn
    certificate: Optional[ValidatedCertificate] = None
    if zone is not None and config.domain:
        certificate = ValidatedCertificate(f"{name}-tls", config.domain, zone.zone_id, opts=on_cloud)
        certificate_arn = certificate.arn
    if certificate_arn is None:
        pulumi.log.warn("no aws.hostedZone or aws.certificateArn: the ALB serves plain HTTP")
    edge = AwsEdge(config, name, provider, provider_tags)
    entry = edge.shape(alb_entry(certificate_arn, dr_aws.ingress_host(config), settings.load_balancer_internal,
                                 settings.load_balancer_source_ranges, HEALTH_PATH))
    outputs = deploy_on_cluster(config, app_provider, entry=entry, data=data, name=name,
                                identities={w: {"eks.amazonaws.com/role-arn": roles[r].arn}
                                            for r, ws in trusted.items() if r in roles for w in ws},
                                isolation=isolation)

    hostname = outputs["entryAddress"]
    edge.front(hostname, certificate)  # type: ignore[arg-type]
    monitoring = monitor(config, name, cluster, postgres, redis, vectors, hostname, identity.account_id, partition,
                         on_cloud)
    result: dict[str, object] = {
        **outputs,
        "loadBalancerHostname": hostname,
        "region": settings.region,
        "availabilityZones": zones,
        "vpcId": vpc.vpc_id,
        "clusterName": cluster.name,
        "kubeconfig": cluster.kubeconfig,
        "kubeconfigCommand": cluster.name.apply(
            lambda n: f"aws eks update-kubeconfig --region {settings.region} --name {n}"),
        "postgresEndpoint": endpoint_output("postgres", internal, pg_endpoint, outputs),
        "redisEndpoint": endpoint_output("redis", internal, redis_endpoint, outputs),
        "bucket": storage.name if storage else config.object_storage.bucket,
        "workloadRoleArn": roles["dify-api"].arn if "dify-api" in roles else None,
        "pluginDaemonRoleArn": roles["dify-plugin-daemon"].arn if "dify-plugin-daemon" in roles else None,
        "vectorStore": ({"kind": "opensearch", "domainName": vectors.domain.domain_name, "domainArn": vectors.arn,
                         "endpoint": vectors.host} if vectors is not None else {"kind": config.vector_store.kind}),
        "registry": {"host": registry.host, "repositories": registry.urls, "dockerHubMirror": registry.mirror},
        **restore_points.outputs(points),
    }
    if monitoring is not None:
        result["alarmTopicArn"] = monitoring.topic.arn
    result.update(edge.outputs())
    if zone is not None and config.domain and edge.cdn is not None:
        result["dnsRecord"] = edge.alias_records(f"{name}-dns", zone.zone_id, on_cloud)[0].fqdn
    elif zone is not None and config.domain:
        alb_zone = aws.lb.get_hosted_zone_id(load_balancer_type="application", region=settings.region, opts=invoke)
        if disaster_recovery is not None and disaster_recovery.settings.failover_records:
            record = dr_aws.dns(disaster_recovery, name=f"{name}-dns", domain=config.domain, zone_id=zone.zone_id,
                                load_balancer_hostname=hostname, load_balancer_zone_id=alb_zone.id,  # type: ignore[arg-type]
                                https=certificate_arn is not None, invoke=invoke, opts=on_cloud)
        else:
            record = alias_record(f"{name}-dns", config.domain, zone.zone_id, hostname, alb_zone.id,  # type: ignore[arg-type]
                                  opts=on_cloud)
        result["dnsRecord"] = record.fqdn
    if disaster_recovery is not None:
        result["disasterRecovery"] = disaster_recovery.outputs
    return result


def monitor(config: StackConfig, name: str, cluster: EksCluster, postgres: Optional[RdsPostgres],
            redis: Optional[ElastiCacheRedis], vectors: Optional[OpenSearchDomain],
            entry_address: pulumi.Input[Optional[str]], account: str,
            partition: str, opts: pulumi.ResourceOptions) -> Optional[CloudWatchAlarms]:
    """Container Insights (when container logs are on) and the alarms (unless monitoring.alarms is false)."""
    settings = config.aws
    assert settings is not None
    preset = PRESETS[config.size]
    if cloud_monitoring.container_logs(config):
        ContainerInsights(f"{name}-insights", cluster_name=cluster.name, kubernetes_version=settings.kubernetes_version,
                          partition=partition, oidc_provider_arn=cluster.oidc_provider.arn,
                          issuer_url=cluster.issuer_url, retention_days=config.monitoring.log_retention_days,
                          depends_on=[cluster.node_group], opts=opts)
    if not config.monitoring.alarms:
        return None
    members = None
    if redis is not None:
        nodes = redis.group.member_clusters.apply(lambda m: sorted(m or []))
        members = [nodes.apply(lambda m, i=i: m[i]) for i in range(preset.cache_nodes)]
    opensearch = None
    if vectors is not None:
        size = domain_size(config)
        opensearch = OpenSearchTarget(domain_name=vectors.domain.domain_name,
                                      free_storage_mib=cloud_monitoring.opensearch_free_storage_mib(size.volume_gb),
                                      replicas=size.instance_count > 1)
    return CloudWatchAlarms(
        f"{name}-alarms", account=account, partition=partition,
        thresholds=cloud_monitoring.aws_thresholds(
            config, settings.rds_instance_class or preset.rds_instance_class,
            settings.rds_storage_gb or preset.rds_storage_gb),
        alert_email=config.monitoring.alert_email,
        rds_identifier=postgres.instance.identifier if postgres is not None else None,
        cache_members=members,
        alb=AlbTargets(namespace=config.kubernetes.namespace, ingress=ENTRY_WORKLOAD, service=ENTRY_WORKLOAD,
                       port="http"),
        cluster_name=cluster.name, alb_ready=entry_address, opensearch=opensearch, opts=opts)


def external_bucket_policies(config: StackConfig, partition: str) -> Optional[tuple[str, str]]:
    """An existing S3 bucket reached through IRSA (objectStorage external, kind s3, useWorkloadIdentity), e.g.
    the standby stack on a replica: the same two policies as for the bucket made here."""
    store = config.object_storage
    if store.mode != "external" or store.kind != "s3" or not store.use_workload_identity or not store.bucket:
        return None
    arns = [f"arn:{partition}:s3:::{b}" for b in dict.fromkeys([store.bucket, store.plugin_bucket or store.bucket])]
    return (iam.document([s for arn in arns for s in workload_statements(arn)]),
            iam.document([s for arn in arns for s in probe_statements(arn)]))
