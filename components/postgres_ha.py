"""PostgreSQL that survives a node or zone loss: a CloudNativePG cluster on the Kubernetes runtime.

- the operator: the `cloudnative-pg` Helm chart (and the Barman Cloud plugin's chart for backups),
  installed into its own namespace, or the ones the cluster already runs there;
- a `postgresql.cnpg.io/v1` Cluster: one primary and streaming replicas spread over zones (topology
  spread) and nodes (the operator's anti-affinity), optionally synchronous, on CloudNativePG's
  `standard` image (it ships pgvector); the operator fails over, and makes the PodDisruptionBudgets
  (`enablePDB`) of the primary and of the replicas;
- `Database` objects for Dify's database (with the `vector` extension) and the plugin daemon's;
- a PgBouncer `Pooler` (Service `postgres`, the host the single pod had) sized by the connection
  budget; Dify connects to it with TLS (the operator's certificates);
- base backups and WAL archiving to the object store through the Barman Cloud plugin (CloudNativePG
  1.30 deprecates the in-tree `barmanObjectStore`, removed in 1.31);
- NetworkPolicies: Dify's users reach the pooler (the runtime's contract, the pooler pods carry the
  `postgres` workload labels), the pooler and the instances reach each other and the API server, the
  operator reaches the instances, the instances reach the object store. Nothing else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.endpoints import ObjectStoreEndpoint, PostgresEndpoint
from components.kubernetes import network
from components.kubernetes.pods import HOSTNAME, ZONE
from components.kubernetes_runtime import INSTANCE_LABEL, NAME_LABEL, KubernetesRuntime
from components.secrets import generated_secret
from components.workload import OBJECT_STORE, POSTGRES, ServiceSpec

CNPG_CHART, CNPG_REPO = "cloudnative-pg", "https://cloudnative-pg.github.io/charts"
# Chart 0.29.0 installs operator 1.30.0 (its appVersion); plugin chart 0.7.0 the plugin v0.13.0.
CNPG_OPERATOR_VERSION = "1.30.0"
BARMAN_CHART, BARMAN_PLUGIN_VERSION = "plugin-barman-cloud", "v0.13.0"
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
# CloudNativePG's `standard` images add pgvector, PGAudit and failover slots to the minimal ones.
IMAGE = "ghcr.io/cloudnative-pg/postgresql:17.11-standard-trixie"
CLUSTER, POOLER, PORT, STATUS_PORT = "postgres-cluster", "postgres", 5432, 8000
CREDENTIALS = "postgres-app-credentials"
API_SERVER_PORTS = (443, 6443)
OPERATOR_LABELS = {"app.kubernetes.io/name": CNPG_CHART}
INSTANCES = {"cnpg.io/cluster": CLUSTER, "cnpg.io/podRole": "instance"}
POOLER_PODS = {"cnpg.io/poolerName": POOLER, "cnpg.io/podRole": "pooler"}


@dataclass(frozen=True)
class HaPostgresArgs:
    user: str
    database: str
    plugin_database: str
    max_connections: int
    # pgvector's own database (with the extension); None: in `database`.
    vector_database: Optional[str] = None
    instances: int = 3
    synchronous_replicas: int = 1
    pooler_instances: int = 2
    # What Dify's pods may open at their replica maximums, and what the server allows for them.
    clients: int = 100
    usable_connections: int = 264
    storage: str = "10Gi"
    resources: dict = field(default_factory=dict)
    require_zones: bool = False
    install_operators: bool = True
    operator_namespace: str = "cnpg-system"
    cnpg_chart_version: str = "0.29.0"
    barman_cloud_chart_version: str = "0.7.0"
    backups: Optional[ObjectStoreEndpoint] = None
    backup_retention: str = "30d"
    api_server_cidrs: tuple[pulumi.Input[str], ...] = ()
    protect: bool = False
    retain_on_delete: bool = True


def pooler_parameters(args: HaPostgresArgs) -> dict[str, str]:
    """Session pooling (the plugin daemon's driver keeps prepared statements); each pooler pod opens at
    most its share of what the server allows, and accepts every client Dify may open."""
    share = max(1, math.floor(args.usable_connections / args.pooler_instances))
    return {
        "max_client_conn": str(max(100, args.clients + math.ceil(args.clients / 10))),
        "default_pool_size": str(share),
        "max_user_connections": str(share),
        "server_idle_timeout": "60",
    }


def cluster_spec(args: HaPostgresArgs, credentials: pulumi.Input[str], storage_class: Optional[str],
                 labels: dict[str, str]) -> dict:
    postgresql: dict = {"parameters": {"max_connections": str(args.max_connections), "shared_buffers": "256MB"}}
    if args.synchronous_replicas:
        # `required`: a commit waits for that many standbys (no data loss on failover; writes pause
        # while too few standbys are up).
        postgresql["synchronous"] = {"method": "any", "number": args.synchronous_replicas,
                                     "dataDurability": "required"}
    spec: dict = {
        "instances": args.instances,
        "imageName": IMAGE,
        "primaryUpdateStrategy": "unsupervised",
        "enablePDB": True,
        "postgresql": postgresql,
        "bootstrap": {"initdb": {
            "database": args.database, "owner": args.user, "secret": {"name": credentials},
            "postInitApplicationSQL": ["CREATE EXTENSION IF NOT EXISTS vector"],
        }},
        "storage": {"size": args.storage, **({"storageClass": storage_class} if storage_class else {})},
        "affinity": {"enablePodAntiAffinity": True, "topologyKey": HOSTNAME,
                     "podAntiAffinityType": "required" if args.require_zones else "preferred"},
        "topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": ZONE,
            "whenUnsatisfiable": "DoNotSchedule" if args.require_zones else "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(INSTANCES)},
        }],
        "inheritedMetadata": {"labels": dict(labels)},
    }
    if args.resources:
        spec["resources"] = args.resources
    if args.backups is not None:
        spec["plugins"] = [{"name": BARMAN_PLUGIN, "isWALArchiver": True,
                            "parameters": {"barmanObjectName": "postgres-backups"}}]
    return spec


def pooler_spec(args: HaPostgresArgs, pod_labels: dict[str, str]) -> dict:
    return {
        "cluster": {"name": CLUSTER},
        "instances": args.pooler_instances,
        "type": "rw",
        "pgbouncer": {"poolMode": "session", "parameters": pooler_parameters(args)},
        "template": {
            "metadata": {"labels": dict(pod_labels)},
            "spec": {
                "containers": [],
                "topologySpreadConstraints": [
                    {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": rule,
                     "labelSelector": {"matchLabels": {"cnpg.io/poolerName": POOLER}}}
                    for key, rule in ((ZONE, "DoNotSchedule" if args.require_zones else "ScheduleAnyway"),
                                      (HOSTNAME, "ScheduleAnyway"))
                ],
            },
        },
    }


def object_store_configuration(store: ObjectStoreEndpoint, secret_name: Optional[pulumi.Input[str]]) -> dict:
    configuration: dict = {
        "destinationPath": pulumi.Output.concat("s3://", store.bucket, "/postgres"),
        "wal": {"compression": "gzip"},
        "data": {"compression": "gzip"},
    }
    if store.endpoint is not None:
        configuration["endpointURL"] = store.endpoint
    if store.use_workload_identity or secret_name is None:
        configuration["s3Credentials"] = {"inheritFromIAMRole": True}
    else:
        configuration["s3Credentials"] = {
            "accessKeyId": {"name": secret_name, "key": "ACCESS_KEY_ID"},
            "secretAccessKey": {"name": secret_name, "key": "ACCESS_SECRET_KEY"},
        }
        if store.region:
            configuration["s3Credentials"]["region"] = {"name": secret_name, "key": "REGION"}
    return configuration


class CloudNativePgOperator(pulumi.ComponentResource):
    """The operator's chart and, for backups, the Barman Cloud plugin's (which needs cert-manager)."""

    def __init__(self, name: str, args: HaPostgresArgs, provider: k8s.Provider,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:postgres:CloudNativePgOperator", name, None, opts)
        # Uninstalling would leave the clusters unmanaged (the chart keeps its CRDs): keep it on destroy.
        keep = pulumi.ResourceOptions(parent=self, provider=provider, retain_on_delete=True, protect=args.protect)
        self.releases: list[k8s.helm.v3.Release] = [k8s.helm.v3.Release(
            f"{name}-cnpg",
            name="cnpg",
            chart=CNPG_CHART,
            version=args.cnpg_chart_version,
            repository_opts={"repo": CNPG_REPO},
            namespace=args.operator_namespace,
            create_namespace=True,
            values={"crds": {"create": True}, "config": {"clusterWide": True}},
            opts=keep,
        )]
        if args.backups is not None:
            self.releases.append(k8s.helm.v3.Release(
                f"{name}-barman-cloud",
                name="barman-cloud",
                chart=BARMAN_CHART,
                version=args.barman_cloud_chart_version,
                repository_opts={"repo": CNPG_REPO},
                namespace=args.operator_namespace,
                create_namespace=True,
                opts=pulumi.ResourceOptions.merge(keep, pulumi.ResourceOptions(depends_on=self.releases[:1])),
            ))
        self.register_outputs({"operatorVersion": CNPG_OPERATOR_VERSION})


class HighlyAvailablePostgres(pulumi.ComponentResource):
    def __init__(self, name: str, args: HaPostgresArgs, runtime: KubernetesRuntime,
                 depends_on: Sequence[pulumi.Resource] = (),
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:postgres:HighlyAvailablePostgres", name, None, opts)
        self.runtime = runtime
        self.args = args
        provider = runtime.provider
        after: list[pulumi.Resource] = list(depends_on)
        if args.install_operators:
            after += CloudNativePgOperator(f"{name}-operator", args, provider,
                                           opts=pulumi.ResourceOptions(parent=self)).releases
        child = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=after)
        meta = runtime._meta
        selector = {INSTANCE_LABEL: runtime.prefix, NAME_LABEL: POSTGRES}

        password = generated_secret(f"{name}-password", parent=self)
        credentials = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata=meta(CREDENTIALS, labels={**selector, "cnpg.io/reload": "true"}),
            type="kubernetes.io/basic-auth",
            string_data=pulumi.Output.secret(password.apply(lambda p: {"username": args.user, "password": p})),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, additional_secret_outputs=["data", "stringData"]),
        )

        annotations = {"pulumi.com/waitFor": "condition=Ready"}
        self.cluster = k8s.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version="postgresql.cnpg.io/v1", kind="Cluster",
            metadata=meta(CLUSTER, labels=selector, annotations=annotations),
            spec=cluster_spec(replace(args, storage=runtime.volume_size(args.storage)), CREDENTIALS,
                              runtime.storage_class, runtime.labels),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                depends_on=[*after, credentials], protect=args.protect, retain_on_delete=args.retain_on_delete,
                # The bootstrap runs once; later edits of it mean nothing to the operator.
                ignore_changes=["spec.bootstrap"])),
        )
        cluster_ready = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.cluster])
        if args.backups is not None:
            self._backups(name, args.backups, child, cluster_ready)
        self.databases = [k8s.apiextensions.CustomResource(
            f"{name}-database-{logical}",
            api_version="postgresql.cnpg.io/v1", kind="Database",
            metadata=meta(f"{CLUSTER}-{database.replace('_', '-')}", labels=selector,
                          annotations={"pulumi.com/waitFor": "jsonpath={.status.applied}=true"}),
            spec={"name": database, "owner": args.user, "cluster": {"name": CLUSTER},
                  "databaseReclaimPolicy": "retain",
                  **({"extensions": [{"name": "vector", "ensure": "present"}]} if logical != "plugin" else {})},
            opts=cluster_ready,
        ) for logical, database in (("dify", args.database), ("plugin", args.plugin_database),
                                    *((("vectors", args.vector_database),) if args.vector_database else ()))]
        pooler_labels = {**runtime.labels, **selector, "app.kubernetes.io/component": "postgres_pooler"}
        self.pooler = k8s.apiextensions.CustomResource(
            f"{name}-pooler",
            api_version="postgresql.cnpg.io/v1", kind="Pooler",
            metadata=meta(POOLER, labels=selector),
            spec=pooler_spec(args, pooler_labels),
            opts=cluster_ready,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pooler",
            metadata=meta(POOLER, labels=selector),
            spec={"maxUnavailable": 1, "selector": {"matchLabels": dict(POOLER_PODS)},
                  "unhealthyPodEvictionPolicy": "AlwaysAllow"},
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        # Dify's services reach the pooler as they reached the single pod: the runtime's contract.
        runtime.data_ports[POSTGRES] = PORT
        if runtime.network_policies:
            self._isolate(args)

        self.workload: pulumi.Resource = self.pooler
        self.workloads: list[pulumi.Resource] = [self.cluster, *self.databases, self.pooler]
        self.spec = ServiceSpec(name=POOLER, upstream_name="db_postgres", image=IMAGE)
        self.address = f"{POOLER}:{PORT}"
        self.endpoint = PostgresEndpoint(
            host=POOLER, port=PORT, user=args.user, password=password,
            database=args.database, plugin_database=args.plugin_database,
            pgvector=True, ssl_mode="require", vector_database=args.vector_database,
        )
        self.register_outputs({"host": POOLER, "port": PORT, "cluster": CLUSTER,
                               "operatorVersion": CNPG_OPERATOR_VERSION})

    def _backups(self, name: str, store: ObjectStoreEndpoint, child: pulumi.ResourceOptions,
                 cluster_ready: pulumi.ResourceOptions) -> None:
        """The object store the plugin archives WAL to and keeps base backups in (under `postgres/` of
        Dify's bucket), and a daily base backup at 03:00 (the first at once)."""
        runtime = self.runtime
        secret_name = None
        if not store.use_workload_identity and store.access_key is not None and store.secret_key is not None:
            keys = k8s.core.v1.Secret(
                f"{name}-backup-credentials",
                metadata=runtime._meta(labels={INSTANCE_LABEL: runtime.prefix, NAME_LABEL: POSTGRES}),
                type="Opaque",
                string_data=pulumi.Output.secret(pulumi.Output.all(store.access_key, store.secret_key,
                                                                   store.region).apply(
                    lambda k: {"ACCESS_KEY_ID": k[0], "ACCESS_SECRET_KEY": k[1], "REGION": k[2]})),
                opts=pulumi.ResourceOptions(parent=self, provider=runtime.provider,
                                            additional_secret_outputs=["data", "stringData"]),
            )
            secret_name = runtime._name_of(keys)
        objects = k8s.apiextensions.CustomResource(
            f"{name}-object-store",
            api_version="barmancloud.cnpg.io/v1", kind="ObjectStore",
            metadata=runtime._meta("postgres-backups"),
            spec={"configuration": object_store_configuration(store, secret_name),
                  "retentionPolicy": self.args.backup_retention},
            opts=child,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-daily-backup",
            api_version="postgresql.cnpg.io/v1", kind="ScheduledBackup",
            metadata=runtime._meta("postgres-daily"),
            spec={"schedule": "0 0 3 * * *", "immediate": True, "backupOwnerReference": "self",
                  "cluster": {"name": CLUSTER}, "method": "plugin", "pluginConfiguration": {"name": BARMAN_PLUGIN}},
            opts=pulumi.ResourceOptions.merge(cluster_ready, pulumi.ResourceOptions(depends_on=[objects])),
        )

    # -- isolation -------------------------------------------------------------------------------

    def _isolate(self, args: HaPostgresArgs) -> None:
        runtime = self.runtime
        api_server = [{"ipBlock": {"cidr": c}} for c in (args.api_server_cidrs or runtime.isolation.cluster_ranges)]
        to_api_server = {"to": api_server, "ports": [{"protocol": "TCP", "port": p} for p in API_SERVER_PORTS]}
        instances = {"podSelector": {"matchLabels": dict(INSTANCES)}}
        pooler = {"podSelector": {"matchLabels": dict(POOLER_PODS)}}
        operator = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": args.operator_namespace}},
                    "podSelector": {"matchLabels": dict(OPERATOR_LABELS)}}
        tcp = [{"protocol": "TCP", "port": p} for p in (PORT, STATUS_PORT)]

        egress = [{"to": [instances], "ports": tcp}, to_api_server]
        if args.backups is not None:
            store = network.egress_policy(
                ServiceSpec(name="postgres-instances", upstream_name="", image="", data=frozenset({OBJECT_STORE})),
                INSTANCES, runtime._peer, runtime.isolation, runtime.data_ports)
            assert store is not None
            egress += store["egress"]
            if OBJECT_STORE in runtime.data_ports:
                object_store = runtime._peer(OBJECT_STORE)["podSelector"]["matchLabels"]
                runtime._policy("from-postgres-instances-to-object-store", network.ingress_policy(
                    object_store, instances, [runtime.data_ports[OBJECT_STORE]]), self)
        runtime._policy("postgres-instances-egress",
                        {"podSelector": {"matchLabels": dict(INSTANCES)}, "policyTypes": ["Egress"], "egress": egress},
                        self)
        runtime._policy("postgres-instances-ingress", {
            "podSelector": {"matchLabels": dict(INSTANCES)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [instances, operator], "ports": tcp},
                        {"from": [pooler], "ports": [{"protocol": "TCP", "port": PORT}]}],
        }, self)
        runtime._policy("postgres-pooler-egress", {
            "podSelector": {"matchLabels": dict(POOLER_PODS)},
            "policyTypes": ["Egress"],
            "egress": [{"to": [instances], "ports": [{"protocol": "TCP", "port": PORT}]}, to_api_server],
        }, self)
