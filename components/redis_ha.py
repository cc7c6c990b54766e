"""Redis that survives a node or zone loss: Redis replication watched by Redis Sentinel, run by the
OpsTree redis-operator on the Kubernetes runtime.

- the operator: the `redis-operator` Helm chart, installed into its own namespace (or the one the
  cluster already runs there);
- a `RedisReplication` (`redis`): one master and replicas over zones and nodes, each with its volume,
  AUTH by a generated password; the operator labels the master pod `redis-role=master` and keeps the
  `redis-master` Service on it (the address of the clients that cannot follow a Sentinel: the agent
  backend, KEDA's queue scaler);
- a `RedisSentinel` (`redis-sentinel`): upstream Redis Sentinel processes that monitor the master group
  and promote a replica when the master fails; Dify's Sentinel-aware clients ask them for the master;
- PodDisruptionBudgets (the operator's, `pdb`) for both;
- NetworkPolicies: Dify's Redis clients reach the data pods on 6379 (the runtime's contract, the data
  pods carry the `redis` workload labels) and the sentinels on 26379; data pods and sentinels reach each
  other; the operator reaches both. Nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.endpoints import RedisEndpoint
from components.kubernetes.pods import HOSTNAME, ZONE
from components.kubernetes_runtime import INSTANCE_LABEL, NAME_LABEL, KubernetesRuntime
from components.secrets import generated_secret
from components.workload import REDIS, ServiceSpec

OPERATOR_CHART, OPERATOR_REPO = "redis-operator", "https://ot-container-kit.github.io/helm-charts"
# Chart 0.22.0 installs operator v0.22.0 (its appVersion).
OPERATOR_VERSION = "v0.22.0"
# The operator's images of upstream Redis and Redis Sentinel (its entrypoints write their config).
IMAGE = "quay.io/opstree/redis:v7.0.15"
SENTINEL_IMAGE = "quay.io/opstree/redis-sentinel:v7.0.15"
API = "redis.redis.opstreelabs.in/v1beta2"
REPLICATION, SENTINEL = "redis", "redis"
MASTER_SERVICE, SENTINEL_SERVICE, SENTINEL_HEADLESS = "redis-master", "redis-sentinel", "redis-sentinel-headless"
MASTER_GROUP = "dify"
PORT, SENTINEL_PORT = 6379, 26379
CREDENTIALS, PASSWORD_KEY = "redis-auth", "password"
SENTINEL_WORKLOAD = "redis-sentinel"
# The labels the operator gives the pods of each (besides those of the custom resource).
DATA_PODS = {"app": REPLICATION, "redis_setup_type": "replication", "role": "replication"}
SENTINEL_PODS = {"app": f"{SENTINEL}-sentinel", "redis_setup_type": "sentinel", "role": "sentinel"}
OPERATOR_LABELS = {"name": "redis-operator"}
RUN_AS = 1000


@dataclass(frozen=True)
class HaRedisArgs:
    db: int
    broker_db: int
    agent_db: int
    instances: int = 3
    sentinels: int = 3
    storage: str = "2Gi"
    resources: dict = field(default_factory=dict)
    require_zones: bool = False
    install_operator: bool = True
    operator_namespace: str = "redis-operator"
    chart_version: str = "0.22.0"
    # Sentinel: a master unreachable this long is down (its `down-after-milliseconds`).
    down_after_ms: int = 5000
    failover_timeout_ms: int = 60000
    protect: bool = False
    retain_on_delete: bool = True

    @property
    def quorum(self) -> int:
        return self.sentinels // 2 + 1


def _spread(pods: dict[str, str], require_zones: bool) -> tuple[list[dict], dict]:
    spread = [{"maxSkew": 1, "topologyKey": ZONE,
               "whenUnsatisfiable": "DoNotSchedule" if require_zones else "ScheduleAnyway",
               "labelSelector": {"matchLabels": dict(pods)}}]
    term = {"labelSelector": {"matchLabels": dict(pods)}, "topologyKey": HOSTNAME}
    affinity = {"podAntiAffinity": (
        {"requiredDuringSchedulingIgnoredDuringExecution": [term]} if require_zones else
        {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]})}
    return spread, affinity


SECURITY = {
    "pod": {"runAsNonRoot": True, "runAsUser": RUN_AS, "runAsGroup": RUN_AS, "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"}},
    "container": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
}


def replication_spec(args: HaRedisArgs, storage_class: Optional[str]) -> dict:
    spread, affinity = _spread(DATA_PODS, args.require_zones)
    claim: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": args.storage}}}
    if storage_class:
        claim["storageClassName"] = storage_class
    config: dict = {"image": IMAGE, "imagePullPolicy": "IfNotPresent",
                    "redisSecret": {"name": CREDENTIALS, "key": PASSWORD_KEY}}
    if args.resources:
        config["resources"] = args.resources
    return {
        "clusterSize": args.instances,
        "kubernetesConfig": config,
        "storage": {"volumeClaimTemplate": {"spec": claim}, "keepAfterDelete": args.retain_on_delete},
        "podSecurityContext": SECURITY["pod"],
        "securityContext": SECURITY["container"],
        "affinity": affinity,
        "topologySpreadConstraints": spread,
        "pdb": {"enabled": True, "maxUnavailable": 1},
    }


def sentinel_spec(args: HaRedisArgs) -> dict:
    spread, affinity = _spread(SENTINEL_PODS, args.require_zones)
    return {
        "clusterSize": args.sentinels,
        "kubernetesConfig": {"image": SENTINEL_IMAGE, "imagePullPolicy": "IfNotPresent",
                             "redisSecret": {"name": CREDENTIALS, "key": PASSWORD_KEY}},
        "redisSentinelConfig": {
            "redisReplicationName": REPLICATION,
            "masterGroupName": MASTER_GROUP,
            "redisPort": str(PORT),
            "quorum": str(args.quorum),
            "downAfterMilliseconds": str(args.down_after_ms),
            "failoverTimeout": str(args.failover_timeout_ms),
            "parallelSyncs": "1",
            "redisReplicationPassword": {"secretKeyRef": {"name": CREDENTIALS, "key": PASSWORD_KEY}},
        },
        "podSecurityContext": SECURITY["pod"],
        "securityContext": SECURITY["container"],
        "affinity": affinity,
        "topologySpreadConstraints": spread,
        "pdb": {"enabled": True, "maxUnavailable": 1},
    }


class HighlyAvailableRedis(pulumi.ComponentResource):
    def __init__(self, name: str, args: HaRedisArgs, runtime: KubernetesRuntime,
                 depends_on: Sequence[pulumi.Resource] = (),
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:redis:HighlyAvailableRedis", name, None, opts)
        self.runtime = runtime
        provider = runtime.provider
        after: list[pulumi.Resource] = list(depends_on)
        if args.install_operator:
            after.append(k8s.helm.v3.Release(
                f"{name}-operator",
                name="redis-operator",
                chart=OPERATOR_CHART,
                version=args.chart_version,
                repository_opts={"repo": OPERATOR_REPO},
                namespace=args.operator_namespace,
                create_namespace=True,
                # Uninstalling would leave the Redis objects unmanaged: keep it on destroy.
                opts=pulumi.ResourceOptions(parent=self, provider=provider, retain_on_delete=True,
                                            protect=args.protect),
            ))
        meta = runtime._meta
        data_labels = {INSTANCE_LABEL: runtime.prefix, NAME_LABEL: REDIS}
        sentinel_labels = {INSTANCE_LABEL: runtime.prefix, NAME_LABEL: SENTINEL_WORKLOAD}

        password = generated_secret(f"{name}-password", parent=self)
        credentials = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata=meta(CREDENTIALS, labels=data_labels),
            type="Opaque",
            string_data=pulumi.Output.secret(password.apply(lambda p: {PASSWORD_KEY: p})),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, additional_secret_outputs=["data", "stringData"]),
        )
        stateful = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[*after, credentials],
                                          protect=args.protect, retain_on_delete=args.retain_on_delete)
        self.replication = k8s.apiextensions.CustomResource(
            f"{name}-replication",
            api_version=API, kind="RedisReplication",
            # Ready once the operator has found (or made) the master and recorded it.
            metadata=meta(REPLICATION, labels={**runtime.labels, **data_labels},
                          annotations={"pulumi.com/waitFor": "jsonpath={.status.masterNode}"}),
            spec=replication_spec(replace(args, storage=runtime.volume_size(args.storage)), runtime.storage_class),
            opts=stateful,
        )
        self.sentinel = k8s.apiextensions.CustomResource(
            f"{name}-sentinel",
            api_version=API, kind="RedisSentinel",
            metadata=meta(SENTINEL, labels={**runtime.labels, **sentinel_labels}),
            spec=sentinel_spec(args),
            opts=pulumi.ResourceOptions(parent=self, provider=provider,
                                        depends_on=[*after, credentials, self.replication]),
        )
        # Dify's Redis clients reach the data pods as they reached the single pod (the runtime's
        # contract) and the sentinels beside them.
        runtime.data_ports[REDIS] = PORT
        runtime.data_companions[REDIS] = {SENTINEL_WORKLOAD: SENTINEL_PORT}
        if runtime.network_policies:
            self._isolate(args)

        self.workloads: list[pulumi.Resource] = [self.replication, self.sentinel]
        self.spec = ServiceSpec(name=MASTER_SERVICE, upstream_name="redis", image=IMAGE)
        self.address = f"{MASTER_SERVICE}:{PORT}"
        sentinels = tuple(f"{SENTINEL}-sentinel-{i}.{SENTINEL_HEADLESS}" for i in range(args.sentinels))
        self.endpoint = RedisEndpoint(
            host=MASTER_SERVICE, port=PORT, password=password, db=args.db, broker_db=args.broker_db,
            agent_db=args.agent_db, sentinels=sentinels, sentinel_port=SENTINEL_PORT, master_name=MASTER_GROUP,
            sentinel_password=password,
        )
        self.register_outputs({"host": MASTER_SERVICE, "port": PORT, "sentinels": list(sentinels),
                               "masterName": MASTER_GROUP, "operatorVersion": OPERATOR_VERSION})

    def _isolate(self, args: HaRedisArgs) -> None:
        runtime = self.runtime
        data = {"podSelector": {"matchLabels": dict(DATA_PODS)}}
        sentinels = {"podSelector": {"matchLabels": dict(SENTINEL_PODS)}}
        operator = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": args.operator_namespace}},
                    "podSelector": {"matchLabels": dict(OPERATOR_LABELS)}}
        to_data = [{"protocol": "TCP", "port": PORT}]
        to_sentinel = [{"protocol": "TCP", "port": SENTINEL_PORT}]
        runtime._policy("redis-data-egress", {
            "podSelector": {"matchLabels": dict(DATA_PODS)}, "policyTypes": ["Egress"],
            "egress": [{"to": [data], "ports": to_data}, {"to": [sentinels], "ports": to_sentinel}],
        }, self)
        runtime._policy("redis-data-ingress", {
            "podSelector": {"matchLabels": dict(DATA_PODS)}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [data, sentinels, operator], "ports": to_data}],
        }, self)
        runtime._policy("redis-sentinel-egress", {
            "podSelector": {"matchLabels": dict(SENTINEL_PODS)}, "policyTypes": ["Egress"],
            "egress": [{"to": [data], "ports": to_data}, {"to": [sentinels], "ports": to_sentinel}],
        }, self)
        runtime._policy("redis-sentinel-ingress", {
            "podSelector": {"matchLabels": dict(SENTINEL_PODS)}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [sentinels, data, operator], "ports": to_sentinel}],
        }, self)
