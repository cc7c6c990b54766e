"""An object store that survives a node or zone loss: distributed SeaweedFS, SeaweedFS's own Helm chart
installed into Dify's namespace on the Kubernetes runtime.

- masters (3, Raft) that keep the volume topology, each with its volume;
- volume servers with their volumes: with `zones`, one group per zone (its nodes, `-rack` the zone)
  and replication `010` (a second copy on another rack), so every object has a copy outside any one
  zone; without zones, replication `001` (a second copy on another server), spread over nodes;
- filers with their own persistent (leveldb2) store; filers of one cluster sync their metadata;
- the S3 gateway (Service `object-store-s3`, the endpoint Dify gets) with the identity from an existing
  Secret and both buckets created by the chart's post-install/upgrade hook;
- PodDisruptionBudgets: one pod of each part (one volume server overall) at a time;
- NetworkPolicies: Dify's object-store clients reach the S3 gateway (the runtime's contract, its peer
  the gateway pods by the chart's labels); SeaweedFS's pods reach each other. Nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import images
from components.endpoints import ObjectStoreEndpoint
from components.kubernetes.pods import HOSTNAME, ZONE
from components.kubernetes.sizing import at_least
from components.kubernetes_runtime import INSTANCE_LABEL, NAME_LABEL, KubernetesRuntime
from components.object_store import REGION, S3_PORT, identities
from components.secrets import generated_secret
from components.workload import OBJECT_STORE, ServiceSpec

CHART, CHART_REPO = "seaweedfs", "https://seaweedfs.github.io/seaweedfs/helm"
RELEASE = "object-store"
S3_SERVICE = f"{RELEASE}-s3"
CONFIG_SECRET, CONFIG_KEY = "object-store-s3-config", "seaweedfs_s3_config"
MASTERS = 3
# Every port a SeaweedFS server listens on (HTTP, gRPC at +10000, metrics): master, volume, filer, S3.
PORTS = (9333, 19333, 8080, 18080, 8888, 18888, S3_PORT, 9327)
PODS = {"app.kubernetes.io/name": CHART, "app.kubernetes.io/instance": RELEASE}
RUN_AS = 1000


def component(name: str) -> dict[str, str]:
    return {**PODS, "app.kubernetes.io/component": name}


@dataclass(frozen=True)
class HaObjectStoreArgs:
    bucket: str
    plugin_bucket: str
    chart_version: str = "4.44.0"
    zones: tuple[str, ...] = ()
    volume_servers: int = 3
    filers: int = 2
    gateways: int = 2
    storage: str = "20Gi"
    require_zones: bool = False
    mirror: Optional[str] = None
    protect: bool = False
    retain_on_delete: bool = True

    @property
    def replication(self) -> str:
        """SeaweedFS's XYZ: copies in other data centers, other racks, other servers of the rack."""
        return "010" if len(self.zones) >= 2 else "001"

    @property
    def buckets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.bucket, self.plugin_bucket)))


def group_name(zone: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", zone.lower()).strip("-")


def _servers_per_zone(args: HaObjectStoreArgs) -> dict[str, int]:
    share, extra = divmod(args.volume_servers, len(args.zones))
    return {zone: share + (1 if i < extra else 0) for i, zone in enumerate(args.zones)}


def _spread(name: str, require_zones: bool) -> str:
    return yaml.safe_dump([{
        "maxSkew": 1, "topologyKey": ZONE,
        "whenUnsatisfiable": "DoNotSchedule" if require_zones else "ScheduleAnyway",
        "labelSelector": {"matchLabels": component(name)},
    }])


def _apart(name: str) -> str:
    return yaml.safe_dump({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": component(name)}, "topologyKey": HOSTNAME}]}})


def _claim(size: str, storage_class: Optional[str], min_volume: Optional[str]) -> dict:
    return {"type": "persistentVolumeClaim", "size": at_least(size, min_volume), "storageClass": storage_class or ""}


SECURITY = {
    "podSecurityContext": {"enabled": True, "runAsNonRoot": True, "runAsUser": RUN_AS, "runAsGroup": RUN_AS,
                           "fsGroup": RUN_AS, "seccompProfile": {"type": "RuntimeDefault"}},
    "containerSecurityContext": {"enabled": True, "allowPrivilegeEscalation": False,
                                 "capabilities": {"drop": ["ALL"]}},
}
LOGS = {"type": "emptyDir"}


def chart_values(args: HaObjectStoreArgs, storage_class: Optional[str], min_volume: Optional[str] = None) -> dict:
    repository, tag = images.SEAWEEDFS.rsplit(":", 1)
    volume: dict = {
        **SECURITY, "logs": LOGS,
        "dataDirs": [{"name": "data", **_claim(args.storage, storage_class, min_volume), "maxVolumes": 0}],
        # The resize hook patches claims through the API server; the runtime grows volumes itself.
        "resizeHook": {"enabled": False},
    }
    values: dict = {
        "fullnameOverride": RELEASE,
        "global": {
            **({"imageRegistry": args.mirror} if args.mirror else {}),
            "seaweedfs": {"image": {"name": repository},
                          "enableReplication": True, "replicationPlacement": args.replication,
                          # No cluster-wide role over every pod, and no API token in SeaweedFS's pods.
                          "createClusterRole": False, "automountServiceAccountToken": False},
        },
        "image": {"tag": tag},
        "master": {
            **SECURITY, "logs": LOGS, "replicas": MASTERS, "defaultReplication": args.replication,
            "data": _claim("1Gi", storage_class, min_volume),
            "affinity": _apart("master"), "topologySpreadConstraints": _spread("master", args.require_zones),
        },
        "filer": {
            **SECURITY, "logs": LOGS, "replicas": args.filers, "defaultReplicaPlacement": args.replication,
            "data": _claim("5Gi", storage_class, min_volume),
            "affinity": _apart("filer"), "topologySpreadConstraints": _spread("filer", args.require_zones),
        },
        "s3": {
            **SECURITY, "logs": LOGS, "enabled": True, "replicas": args.gateways, "port": S3_PORT,
            "enableAuth": True, "existingConfigSecret": CONFIG_SECRET,
            "createBuckets": [{"name": b, "anonymousRead": False} for b in args.buckets],
            "affinity": _apart("s3"), "topologySpreadConstraints": _spread("s3", args.require_zones),
        },
    }
    if args.zones:
        values["volume"] = {**volume, "enabled": False}
        values["volumes"] = {
            group_name(zone): {**volume, "replicas": servers, "rack": zone,
                               "nodeSelector": yaml.safe_dump({ZONE: zone})}
            for zone, servers in _servers_per_zone(args).items()}
    else:
        values["volume"] = {**volume, "replicas": args.volume_servers,
                            "topologySpreadConstraints": _spread("volume", args.require_zones)}
    return values


def volume_components(args: HaObjectStoreArgs) -> list[str]:
    return [f"volume-{group_name(z)}" for z in args.zones] if args.zones else ["volume"]


class HighlyAvailableObjectStore(pulumi.ComponentResource):
    def __init__(self, name: str, args: HaObjectStoreArgs, runtime: KubernetesRuntime,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:storage:HighlyAvailableObjectStore", name, None, opts)
        self.runtime = runtime
        provider = runtime.provider
        labels = {INSTANCE_LABEL: runtime.prefix, NAME_LABEL: OBJECT_STORE}
        access_key = generated_secret(f"{name}-access-key", length=20, parent=self)
        secret_key = generated_secret(f"{name}-secret-key", length=40, parent=self)
        config = k8s.core.v1.Secret(
            f"{name}-s3-config",
            metadata=runtime._meta(CONFIG_SECRET, labels=labels),
            type="Opaque",
            string_data=pulumi.Output.secret(pulumi.Output.all(access_key, secret_key).apply(
                lambda keys: {CONFIG_KEY: identities(*keys)})),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, additional_secret_outputs=["data", "stringData"]),
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-seaweedfs",
            name=RELEASE,
            chart=CHART,
            version=args.chart_version,
            repository_opts={"repo": CHART_REPO},
            namespace=runtime.namespace,
            values=chart_values(args, runtime.storage_class, runtime.min_volume),
            # The buckets exist once the post-install hook has run.
            wait_for_jobs=True,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[config],
                                        protect=args.protect, retain_on_delete=args.retain_on_delete),
        )
        parts = {"master": component("master"), "filer": component("filer"), "s3": component("s3")}
        for part, selector in parts.items():
            self._budget(part, {"matchLabels": selector})
        self._budget("volume", {"matchLabels": dict(PODS), "matchExpressions": [
            {"key": "app.kubernetes.io/component", "operator": "In", "values": volume_components(args)}]})
        # Dify's object-store clients reach the gateway as they reached the single pod.
        runtime.data_ports[OBJECT_STORE] = S3_PORT
        runtime.peer_labels[OBJECT_STORE] = component("s3")
        if runtime.network_policies:
            self._isolate()

        self.workloads: list[pulumi.Resource] = [self.release]
        self.spec = ServiceSpec(name=S3_SERVICE, upstream_name="object_store", image=images.SEAWEEDFS)
        self.address = f"{S3_SERVICE}:{S3_PORT}"
        self.endpoint = ObjectStoreEndpoint(
            kind="s3-compatible", bucket=args.bucket, plugin_bucket=args.plugin_bucket, region=REGION,
            endpoint=f"http://{S3_SERVICE}:{S3_PORT}", access_key=access_key, secret_key=secret_key,
            path_style=True,
        )
        self.register_outputs({"endpoint": self.endpoint.endpoint, "buckets": list(args.buckets),
                               "replication": args.replication, "chartVersion": args.chart_version})

    def _budget(self, part: str, selector: dict) -> None:
        k8s.policy.v1.PodDisruptionBudget(
            f"{self.runtime.prefix}-object-store-{part}",
            metadata=self.runtime._meta(f"object-store-{part}", labels={INSTANCE_LABEL: self.runtime.prefix}),
            spec={"maxUnavailable": 1, "selector": selector},
            opts=pulumi.ResourceOptions(parent=self, provider=self.runtime.provider, depends_on=[self.release]),
        )

    def _isolate(self) -> None:
        peers = {"podSelector": {"matchLabels": dict(PODS)}}
        ports = [{"protocol": "TCP", "port": p} for p in PORTS]
        self.runtime._policy("object-store-cluster-egress", {
            "podSelector": {"matchLabels": dict(PODS)}, "policyTypes": ["Egress"],
            "egress": [{"to": [peers], "ports": ports}],
        }, self)
        self.runtime._policy("object-store-cluster-ingress", {
            "podSelector": {"matchLabels": dict(PODS)}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [peers], "ports": ports}],
        }, self)
