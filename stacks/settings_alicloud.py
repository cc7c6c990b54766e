"""The `alicloud` section of the stack config (target alicloud).

Defaults follow the production shape of Alibaba Cloud's Compute Nest Dify service (about 3,000
daily active users): six 8-core/32 GiB workers across two zones, RDS PostgreSQL 4C8G High
Availability with 500 GB ESSD, a 2 GB Redis in two zones. Sizes that depend on `size` are None here
and resolved by `sized(size)`; anything set explicitly wins.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from stacks import rules
from stacks.rules import KeyedError, Text
from stacks.strict import Strict

# Region IDs are words and numbers (cn-hangzhou, ap-southeast-1, cn-shanghai-finance-1); a zone ID adds a
# letter (cn-hangzhou-j, ap-southeast-1a).
_REGION = re.compile(r"^[a-z]{2}(-([a-z]{2,}|[0-9]+))+$")
_ZONE = re.compile(r"^([a-z]{2}(-([a-z]{2,}|[0-9]+))+)(-[a-z]|(?<=[0-9])[a-z])$")
_ID = {
    "vpcId": re.compile(r"^vpc-[a-z0-9]+$"),
    "vswitchIds": re.compile(r"^vsw-[a-z0-9]+$"),
    "podVswitchIds": re.compile(r"^vsw-[a-z0-9]+$"),
    "instanceId": re.compile(r"^cri-[a-z0-9]+$"),
}
_INSTANCE_TYPE = rules.ECS_INSTANCE


def _cidr(value: str, key: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise KeyedError(f"alicloud.{key}", f"{value!r} is not a CIDR block such as 192.168.0.0/16") from None
    if not rules.is_rfc1918(network):
        raise KeyedError(f"alicloud.{key}", f"{value} must be a private IPv4 range (10/8, 172.16/12, 192.168/16)")
    return network


class AutoscalingSettings(Strict):
    """Node pool autoscaling (the cluster-autoscaler): between minSize and maxSize nodes."""

    min_size: int = Field(ge=1, le=1000)
    max_size: int = Field(ge=1, le=1000)

    @model_validator(mode="after")
    def _bounds(self) -> "AutoscalingSettings":
        if self.max_size <= self.min_size:
            raise KeyedError("alicloud.autoscaling.maxSize",
                             "alicloud.autoscaling.maxSize must be greater than alicloud.autoscaling.minSize")
        return self


class RdsSettings(Strict):
    """ApsaraDB RDS for PostgreSQL. `category` HighAvailability runs a standby in the second zone."""

    instance_type: Optional[str] = None
    storage_gb: Optional[int] = Field(default=None, ge=20, le=32000)
    engine_version: Literal["14.0", "15.0", "16.0", "17.0"] = "16.0"
    category: Optional[Literal["Basic", "HighAvailability"]] = None
    storage_type: Literal["cloud_essd", "cloud_essd2", "cloud_essd3", "general_essd"] = "cloud_essd"

    @field_validator("instance_type")
    @classmethod
    def _class(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not rules.ALI_RDS_PG_CLASS.match(value):
            raise ValueError("give an RDS PostgreSQL instance class such as pg.n2.large.2c")
        return value


class KvstoreSettings(Strict):
    """Tair (Redis OSS-compatible), standard master-replica: cluster mode breaks Celery."""

    instance_class: Optional[str] = None
    engine_version: Literal["6.0", "7.0"] = "7.0"

    @field_validator("instance_class")
    @classmethod
    def _class(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        if not rules.KVSTORE_CLASS.match(value):
            raise ValueError("give a KVStore instance class such as redis.shard.mid.ce")
        if ".sharding." in value or "cluster" in value or ".proxy." in value or ".rw" in value:
            raise ValueError(
                f"{value} is a cluster or read/write-splitting class; Celery needs a standard "
                "(master-replica) instance such as redis.shard.mid.ce"
            )
        return value


class AcrSettings(Strict):
    """ACR Enterprise Edition. Without `instanceId` one is created (prepaid: see README). With
    `mirrorImages` the Docker Hub images Dify needs are subscribed into the instance and pulled
    from its VPC endpoint, so the cluster does not depend on Docker Hub."""

    instance_id: Optional[str] = None
    # The instance's VPC registry host (<name>-registry-vpc.<region>.cr.aliyuncs.com); required
    # with instanceId, since image references must be known before deployment.
    endpoint: Optional[str] = None
    instance_name: Optional[str] = None
    edition: Literal["Basic", "Standard", "Advanced"] = "Basic"
    plugin_namespace: str = "dify-plugins"
    mirror_images: bool = True
    link_vpc: bool = True

    @field_validator("instance_id")
    @classmethod
    def _instance(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _ID["instanceId"].match(value):
            raise ValueError("give an ACR EE instance ID such as cri-abc123")
        return value

    @field_validator("plugin_namespace", "instance_name")
    @classmethod
    def _name(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.match(r"^[a-z0-9][a-z0-9_-]{1,62}[a-z0-9]$", value):
            raise ValueError("give 3-64 lower-case letters, digits, '-' or '_'")
        return value

    @model_validator(mode="after")
    def _existing(self) -> "AcrSettings":
        if self.instance_id is not None and self.endpoint is None:
            raise KeyedError("alicloud.acr.endpoint",
                "alicloud.acr.endpoint is required with alicloud.acr.instanceId: the instance's VPC "
                "registry host, e.g. myacr-registry-vpc.cn-hangzhou.cr.aliyuncs.com"
            )
        if self.endpoint is not None:
            if "/" in self.endpoint or ":" in self.endpoint:
                raise KeyedError("alicloud.acr.endpoint",
                                 "alicloud.acr.endpoint: give the registry host only, without scheme or path")
            try:
                rules.hostname(self.endpoint, allow_ip=False)
            except ValueError as error:
                raise KeyedError("alicloud.acr.endpoint", f"{error}") from None
        return self


@dataclass(frozen=True)
class Sizing:
    """What `size` means on Alibaba Cloud, after explicit settings are applied."""

    cluster_spec: str
    node_instance_types: tuple[str, ...]
    node_count: int
    rds_instance_type: str
    rds_storage_gb: int
    rds_category: str
    redis_instance_class: str
    multi_zone_data: bool
    production: bool


# Compute Nest's production shape (about 3,000 DAU) and smaller steps below it.
PRESETS: dict[str, dict] = {
    "production": dict(cluster_spec="ack.pro.small", node_instance_types=("ecs.g7.2xlarge", "ecs.g8i.2xlarge"),
                       node_count=6, rds_instance_type="pg.n2.large.2c", rds_storage_gb=500,
                       rds_category="HighAvailability", redis_instance_class="redis.shard.mid.ce"),
    "small": dict(cluster_spec="ack.pro.small", node_instance_types=("ecs.g7.xlarge", "ecs.g8i.xlarge"),
                  node_count=3, rds_instance_type="pg.n2.medium.2c", rds_storage_gb=100,
                  rds_category="HighAvailability", redis_instance_class="redis.shard.small.ce"),
    "dev": dict(cluster_spec="ack.standard", node_instance_types=("ecs.g7.xlarge", "ecs.g8i.xlarge"),
                node_count=2, rds_instance_type="pg.n2.medium.1", rds_storage_gb=50,
                rds_category="Basic", redis_instance_class="redis.shard.small.ce"),
}


# Linux node images of pulumi-alicloud's cs.NodePool `image_type`.
NodeImageType = Literal[
    "AliyunLinux3", "AliyunLinux3Arm64", "AliyunLinux3ContainerOptimized", "ContainerOS",
    "AliyunLinux4", "AliyunLinux4Arm64", "AliyunLinux4ContainerOptimized", "AliyunLinux4ContainerOptimizedArm64",
    "AliyunLinux4Security", "Ubuntu",
]
# Kernels 5.13+ that can have Landlock: Ubuntu (5.15 / 6.8, enabled) and Alibaba Cloud Linux 4 (6.6).
# Alibaba Cloud Linux 3 and ContainerOS 3 run 5.10 without it.
LANDLOCK_IMAGE_TYPES = ("Ubuntu", "AliyunLinux4", "AliyunLinux4Arm64", "AliyunLinux4ContainerOptimized",
                        "AliyunLinux4ContainerOptimizedArm64", "AliyunLinux4Security")


class AlicloudDrSettings(Strict):
    """Disaster recovery into `standbyRegion`: OSS Cross-Region Replication of the bucket (existing objects
    too) and RDS cross-region backups (full backups and, with `logBackup`, the logs for point-in-time
    restores) kept there."""

    standby_region: str
    # OSS Replication Time Control: most objects within seconds, 99.99% within 10 minutes; only between the
    # region pairs OSS lists for RTC, billed per GB.
    replication_time_control: bool = False
    # Deletions follow to the replica (OSS action ALL); off (PUT) keeps a copy of what is deleted by mistake.
    replicate_deletes: bool = False
    # Days the cross-region backup sets are kept (7 to 1825); they outlive the instance.
    backup_retention_days: int = Field(default=7, ge=7, le=1825)
    # Cross-region log backups: restore to a point in time, not only to the last full backup.
    log_backup: bool = True

    @field_validator("standby_region")
    @classmethod
    def _region(cls, value: str) -> str:
        return alicloud_region(value)


def alicloud_region(value: str) -> str:
    zone = _ZONE.match(value)
    if zone:
        raise ValueError(f"{value} is a zone ID; the region is {zone.group(1)}")
    if not _REGION.match(value):
        raise ValueError("give an Alibaba Cloud region ID such as cn-hangzhou or ap-southeast-1")
    return value


class AlicloudSettings(Strict):
    region: str = "cn-hangzhou"
    # Two zones; empty picks the region's first two zones that can host vSwitches.
    zones: list[str] = Field(default_factory=list)
    # Network: a new VPC from vpcCidr (one node vSwitch per zone, one pod vSwitch per zone for
    # Terway, a NAT gateway), or an existing one by vpcId + vswitchIds (in the order of `zones`).
    vpc_id: Optional[str] = None
    vpc_cidr: str = "192.168.0.0/16"
    vswitch_ids: list[str] = Field(default_factory=list)
    pod_vswitch_ids: list[str] = Field(default_factory=list)
    nat_gateway: Optional[bool] = None  # default: true for a new VPC, false for an existing one
    # Cluster
    network_plugin: Literal["terway", "flannel"] = "terway"
    pod_cidr: Optional[str] = None  # flannel only; default 172.20.0.0/16
    service_cidr: str = "172.16.0.0/16"
    kubernetes_version: Optional[Text] = None
    cluster_spec: Optional[Literal["ack.standard", "ack.pro.small"]] = None
    public_api_server: bool = True
    node_instance_types: list[str] = Field(default_factory=list)
    node_count: Optional[int] = Field(default=None, ge=1, le=1000)
    node_system_disk_gb: int = Field(default=120, ge=40, le=2048)
    # The node pool's OS image (the SDK's `image_type`). Alibaba Cloud Linux 3 (kernel 5.10) has no
    # Landlock, so Dify's agent local sandbox runs there without path isolation.
    node_image_type: NodeImageType = "AliyunLinux3"
    autoscaling: Optional[AutoscalingSettings] = None
    # Data
    rds: RdsSettings = Field(default_factory=RdsSettings)
    kvstore: KvstoreSettings = Field(default_factory=KvstoreSettings)
    # Registry
    acr: AcrSettings = Field(default_factory=AcrSettings)
    # Entry and name
    certificate_id: Optional[str] = None
    load_balancer_spec: str = "slb.s2.small"
    # A format check per product family; the catalogs of classes change too often to list.
    dns_zone: Optional[str] = None
    # Disaster recovery in a second region (off without it).
    dr: Optional[AlicloudDrSettings] = None

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        zone = _ZONE.match(value)
        if zone:
            raise ValueError(f"{value} is a zone ID; the region is {zone.group(1)} (zones go in alicloud.zones)")
        if not _REGION.match(value):
            raise ValueError("give an Alibaba Cloud region ID such as cn-hangzhou or ap-southeast-1")
        return value

    @field_validator("zones")
    @classmethod
    def _zones(cls, value: list[str]) -> list[str]:
        if value and (len(value) != 2 or len(set(value)) != 2):
            raise ValueError("give exactly two different zones, e.g. [cn-hangzhou-j, cn-hangzhou-k], "
                             "or leave it empty to use the region's first two")
        for zone in value:
            if not _ZONE.match(zone):
                raise ValueError(f"{zone!r} is not a zone ID such as cn-hangzhou-j")
        return value

    @field_validator("vpc_id", "vswitch_ids", "pod_vswitch_ids")
    @classmethod
    def _ids(cls, value, info):
        key = {"vpc_id": "vpcId", "vswitch_ids": "vswitchIds", "pod_vswitch_ids": "podVswitchIds"}[info.field_name]
        for item in ([value] if isinstance(value, str) else value or []):
            if not _ID[key].match(item):
                raise ValueError(f"{item!r} is not a {'VPC' if key == 'vpcId' else 'vSwitch'} ID")
        return value

    @field_validator("node_instance_types")
    @classmethod
    def _instance_types(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _INSTANCE_TYPE.match(item):
                raise ValueError(f"{item!r} is not an ECS instance type such as ecs.g7.2xlarge")
        return value

    @field_validator("load_balancer_spec")
    @classmethod
    def _lb_spec(cls, value: str) -> str:
        if not rules.SLB_SPEC.match(value):
            raise ValueError(f"{value!r} is not a CLB specification such as slb.s2.small or slb.s3.large")
        return value

    @field_validator("certificate_id")
    @classmethod
    def _certificate(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.match(r"^[A-Za-z0-9_-]+$", value):
            raise ValueError("give the SLB certificate ID, e.g. 1234567-cn-hangzhou")
        return value

    @field_validator("dns_zone")
    @classmethod
    def _dns_zone(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        value = value.strip().lower().rstrip(".")
        if not re.match(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$", value):
            raise ValueError("give the Alidns domain, e.g. example.com")
        return rules.hostname(value, allow_ip=False)

    @model_validator(mode="after")
    def _consistent(self) -> "AlicloudSettings":
        for zone in self.zones:
            zone_region = _ZONE.match(zone).group(1)  # type: ignore[union-attr]  # the field validator matched it
            if zone_region != self.region:
                raise KeyedError("alicloud.zones",
                                 f"{zone} is a zone of {zone_region}, not of alicloud.region {self.region}")
        for key, ids in (("vswitchIds", self.vswitch_ids), ("podVswitchIds", self.pod_vswitch_ids)):
            if len(set(ids)) != len(ids):
                raise KeyedError(f"alicloud.{key}", f"alicloud.{key} lists a vSwitch twice; give each once")
        shared = sorted(set(self.vswitch_ids) & set(self.pod_vswitch_ids))
        if shared:
            raise KeyedError("alicloud.podVswitchIds", f"{', '.join(shared)} is both a node and a pod vSwitch; "
                                                       "Terway needs separate pod vSwitches")
        if self.autoscaling is not None and self.node_count is not None:
            raise KeyedError("alicloud.nodeCount",
                             "alicloud.nodeCount and alicloud.autoscaling both size the node pool, and the "
                             "autoscaler would override the count; set one of them")
        cert_region = re.match(r"^[0-9]+-([a-z]{2}(-([a-z]{2,}|[0-9]+))+)$", self.certificate_id or "")
        if cert_region and cert_region.group(1) != self.region:
            raise KeyedError("alicloud.certificateId",
                             f"the certificate is uploaded in {cert_region.group(1)}, the load balancer is in "
                             f"{self.region}; upload it to {self.region}")
        if self.dr is not None and self.dr.standby_region == self.region:
            raise KeyedError("alicloud.dr.standbyRegion",
                             f"the standby region must differ from alicloud.region ({self.region}): a region outage "
                             "takes both down otherwise; pick another, e.g. cn-shanghai for cn-hangzhou")
        vpc = _cidr(self.vpc_cidr, "vpcCidr")
        service = _cidr(self.service_cidr, "serviceCidr")
        if not 16 <= service.prefixlen <= 24:
            raise KeyedError("alicloud.serviceCidr", "ACK accepts a /16 to /24 block")
        if service.overlaps(vpc):
            raise KeyedError("alicloud.serviceCidr",
                             f"{service} overlaps alicloud.vpcCidr {vpc}; pick a range outside the VPC")
        if self.network_plugin == "terway":
            if self.pod_cidr is not None:
                raise KeyedError("alicloud.podCidr", "alicloud.podCidr applies to networkPlugin flannel; Terway "
                                 "gives pods addresses from the pod vSwitches (alicloud.podVswitchIds)")
        else:
            pod = _cidr(self.pod_cidr or "172.20.0.0/16", "podCidr")
            for other, key in ((vpc, "vpcCidr"), (service, "serviceCidr")):
                if pod.overlaps(other):
                    raise KeyedError("alicloud.podCidr", f"alicloud.podCidr {pod} overlaps alicloud.{key} {other}")
            if self.pod_vswitch_ids:
                raise KeyedError("alicloud.podVswitchIds", "alicloud.podVswitchIds applies to networkPlugin terway")
        if self.vpc_id is None:
            if self.vswitch_ids or self.pod_vswitch_ids:
                raise KeyedError("alicloud.vswitchIds", "needs alicloud.vpcId (the VPC they belong to)")
            if vpc.prefixlen > 20:
                raise KeyedError("alicloud.vpcCidr",
                                 "give a /20 or larger block; node and pod vSwitches are cut from it")
        else:
            if len(self.vswitch_ids) != 2:
                raise KeyedError("alicloud.vswitchIds",
                                 "with alicloud.vpcId give two vSwitch IDs, one in each of alicloud.zones")
            if len(self.zones) != 2:
                raise KeyedError("alicloud.zones",
                                 "with alicloud.vpcId give the two zones of alicloud.vswitchIds, in order")
            if self.pod_vswitch_ids and len(self.pod_vswitch_ids) != 2:
                raise KeyedError("alicloud.podVswitchIds", "give two vSwitch IDs, one in each zone")
        return self

    # -- derived ---------------------------------------------------------------------------------

    @property
    def creates_network(self) -> bool:
        return self.vpc_id is None

    @property
    def wants_nat_gateway(self) -> bool:
        return self.creates_network if self.nat_gateway is None else self.nat_gateway

    @property
    def flannel_pod_cidr(self) -> Optional[str]:
        return (self.pod_cidr or "172.20.0.0/16") if self.network_plugin == "flannel" else None

    def node_vswitch_cidrs(self) -> list[str]:
        vpc = ipaddress.ip_network(self.vpc_cidr)
        return [str(n) for n in list(vpc.subnets(new_prefix=min(vpc.prefixlen + 4, 24)))[:2]]

    def pod_vswitch_cidrs(self) -> list[str]:
        """Terway pod vSwitches: larger blocks after the node vSwitches."""
        vpc = ipaddress.ip_network(self.vpc_cidr)
        return [str(n) for n in list(vpc.subnets(new_prefix=min(vpc.prefixlen + 3, 23)))[1:3]]

    def sized(self, size: str) -> Sizing:
        preset = PRESETS[size]
        return Sizing(
            cluster_spec=self.cluster_spec or preset["cluster_spec"],
            node_instance_types=tuple(self.node_instance_types) or preset["node_instance_types"],
            node_count=self.node_count or preset["node_count"],
            rds_instance_type=self.rds.instance_type or preset["rds_instance_type"],
            rds_storage_gb=self.rds.storage_gb or preset["rds_storage_gb"],
            rds_category=self.rds.category or preset["rds_category"],
            redis_instance_class=self.kvstore.instance_class or preset["redis_instance_class"],
            multi_zone_data=size != "dev",
            production=size == "production",
        )
