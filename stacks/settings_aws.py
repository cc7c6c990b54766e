"""The `aws` section of the stack config (target aws).

Sizes (node group, RDS class, cache node type, backups) default from `size`; every key here
overrides its preset value. An existing VPC is given by `vpcId` with `privateSubnetIds` and
`publicSubnetIds` (all three, or none: a new VPC is built across `availabilityZones`).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from stacks import rules
from stacks.rules import KeyedError, Text
from stacks.strict import Strict

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_ARN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(role|user|assumed-role)/.+$")
_ACM = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$")
_PTC_SECRET = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:ecr-pullthroughcache/.+$")


class PullThroughCacheSettings(Strict):
    """Pull Dify's (and every Docker Hub) image through an ECR pull-through cache rule. Docker Hub
    requires credentials: a Secrets Manager secret named `ecr-pullthroughcache/...` holding
    `{"username": ..., "accessToken": ...}`."""

    docker_hub_credential_arn: str

    @field_validator("docker_hub_credential_arn")
    @classmethod
    def _secret(cls, value: str) -> str:
        if not _PTC_SECRET.match(value):
            raise ValueError(
                "give the ARN of a Secrets Manager secret whose name starts with ecr-pullthroughcache/ "
                "(arn:aws:secretsmanager:<region>:<account>:secret:ecr-pullthroughcache/<name>)"
            )
        return value


class AwsDrSettings(Strict):
    """Disaster recovery into `standbyRegion`: the bucket replicated there (S3 Cross-Region Replication,
    SSE-KMS with a key of that region), RDS automated backups replicated there, a standby network ready
    for the restore, and (with `failoverRecords`) Route 53 failover from the primary to the standby."""

    standby_region: str
    # A new VPC in the standby region (subnets, one NAT gateway): where the database is restored and the
    # standby stack runs. Must not overlap aws.vpcCidr, so the two can be peered.
    standby_vpc_cidr: str = "10.1.0.0/16"
    # S3 Replication Time Control (99.99% of objects within 15 minutes, with metrics); default: on in production.
    replication_time_control: Optional[bool] = None
    # Deletions (delete markers) follow to the replica; off keeps a copy of what is deleted by mistake.
    replicate_deletes: bool = False
    # Days the replica keeps versions that were overwritten (or, with replicateDeletes, deleted).
    replica_noncurrent_days: int = Field(default=30, ge=1, le=3650)
    # Days the replicated automated backups are kept in the standby region; default: aws.backupRetentionDays.
    backup_retention_days: Optional[int] = Field(default=None, ge=1, le=35)
    failover_records: bool = False
    # Where the SECONDARY record points: the standby ALB's name, or a name in aws.hostedZone.
    standby_hostname: Optional[str] = None

    @field_validator("standby_region")
    @classmethod
    def _region(cls, value: str) -> str:
        return aws_region(value)

    @field_validator("standby_vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        return vpc_cidr(value)

    @field_validator("standby_hostname")
    @classmethod
    def _hostname(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else rules.hostname(value.strip().lower().rstrip("."), allow_ip=False)

    @model_validator(mode="after")
    def _failover(self) -> "AwsDrSettings":
        if self.failover_records and self.standby_hostname is None:
            raise KeyedError("aws.dr.standbyHostname",
                             "aws.dr.failoverRecords needs aws.dr.standbyHostname: the standby ALB's DNS name "
                             "(<name>.<standbyRegion>.elb.amazonaws.com) or a name in aws.hostedZone that you point "
                             "at it")
        if self.standby_hostname is not None and not self.failover_records:
            raise KeyedError("aws.dr.standbyHostname", "aws.dr.standbyHostname is read only with "
                             "aws.dr.failoverRecords true; set that too, or remove aws.dr.standbyHostname")
        return self

    @property
    def standby_is_load_balancer(self) -> bool:
        return (self.standby_hostname or "").endswith(f".{self.standby_region}.elb.amazonaws.com")


def aws_region(value: str) -> str:
    if re.match(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d[a-z]$", value):
        raise ValueError(f"{value} is an availability zone; the region is {value[:-1]}")
    if re.match(r"^[a-z]{3,4}\d-az\d+$", value):
        raise ValueError(f"{value} is an availability zone ID; give the region, such as us-east-1")
    if not _REGION.match(value):
        raise ValueError(f"{value!r} is not an AWS region such as us-east-1 or eu-central-1")
    return value


def vpc_cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a CIDR such as 10.0.0.0/16") from None
    if network.version != 4 or not 16 <= network.prefixlen <= 20:
        raise ValueError("give an IPv4 CIDR between /16 and /20, e.g. 10.0.0.0/16")
    if not (rules.is_rfc1918(network) or network.subnet_of(ipaddress.ip_network("100.64.0.0/10"))
            or network.is_global):
        raise ValueError(f"{network} is a reserved range (loopback, link-local, multicast or similar) that a VPC "
                         "cannot use; give a private range such as 10.0.0.0/16")
    return value


class AwsSettings(Strict):
    region: str = "us-east-1"
    availability_zones: int = Field(default=3, ge=2, le=3)
    # A new VPC: per zone a private subnet of an eighth of it (pods take VPC addresses), a public one of a 64th.
    vpc_cidr: str = "10.0.0.0/16"
    # NAT: `perZone` (production default) or `single` (dev/small default, one shared gateway).
    nat_gateways: Optional[Literal["perZone", "single"]] = None
    vpc_id: Optional[str] = None
    private_subnet_ids: list[str] = Field(default_factory=list)
    public_subnet_ids: list[str] = Field(default_factory=list)
    # EKS.
    # 1.35: in EKS standard support until March 2027 (1.33 left it in July 2026; extended support costs extra).
    kubernetes_version: Text = "1.35"
    api_access_cidrs: list[str] = Field(default_factory=lambda: ["0.0.0.0/0"])
    cluster_admin_arns: list[str] = Field(default_factory=list)
    node_instance_types: Optional[list[str]] = None
    node_min_size: Optional[int] = Field(default=None, ge=1, le=100)
    node_desired_size: Optional[int] = Field(default=None, ge=1, le=100)
    node_max_size: Optional[int] = Field(default=None, ge=1, le=100)
    node_disk_gb: int = Field(default=50, ge=20, le=1000)
    # RDS for PostgreSQL.
    postgres_version: Text = "17"
    rds_instance_class: Optional[str] = None
    rds_storage_gb: Optional[int] = Field(default=None, ge=20, le=65536)
    backup_retention_days: Optional[int] = Field(default=None, ge=1, le=35)
    # ElastiCache.
    redis_engine: Literal["valkey", "redis"] = "valkey"
    redis_node_type: Optional[str] = None
    # Entry and name.
    hosted_zone: Optional[str] = None
    certificate_arn: Optional[str] = None
    load_balancer_internal: bool = False
    load_balancer_source_ranges: list[str] = Field(default_factory=list)
    # Registry.
    pull_through_cache: Optional[PullThroughCacheSettings] = None
    # Disaster recovery in a second region (off without it).
    dr: Optional[AwsDrSettings] = None

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return aws_region(value)

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_cidr(cls, value: str) -> str:
        return vpc_cidr(value)

    @field_validator("load_balancer_source_ranges")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            rules.cidr(cidr)
        return value

    @field_validator("api_access_cidrs")
    @classmethod
    def _api_cidrs(cls, value: list[str]) -> list[str]:
        # EKS reads an empty list as 0.0.0.0/0 and refuses non-public ranges.
        if not value:
            raise ValueError("an empty list opens the API endpoint to every address; give the public ranges "
                             "allowed in, or [0.0.0.0/0] to say so explicitly")
        for cidr in value:
            network = rules.cidr(cidr, strict=True)
            if network.version != 4 or (not network.is_global and str(network) != "0.0.0.0/0"):
                raise ValueError(f"{cidr} is not a public IPv4 range; EKS public access takes public CIDRs only "
                                 "(private clients reach the API through the VPC)")
        return value

    @field_validator("vpc_id")
    @classmethod
    def _vpc_id(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.match(r"^vpc-[0-9a-f]{8,17}$", value):
            raise ValueError("give a VPC ID such as vpc-0123456789abcdef0")
        return value

    @field_validator("private_subnet_ids", "public_subnet_ids")
    @classmethod
    def _subnet_ids(cls, value: list[str]) -> list[str]:
        for subnet in value:
            if not re.match(r"^subnet-[0-9a-f]{8,17}$", subnet):
                raise ValueError(f"{subnet!r} is not a subnet ID such as subnet-0123456789abcdef0")
        return value

    @field_validator("kubernetes_version")
    @classmethod
    def _k8s_version(cls, value: str) -> str:
        if not re.match(r"^1\.(2[89]|3\d)$", value):
            raise ValueError("give an EKS Kubernetes minor version such as 1.33")
        return value

    @field_validator("cluster_admin_arns")
    @classmethod
    def _principals(cls, value: list[str]) -> list[str]:
        for arn in value:
            if not _ARN.match(arn) or ":assumed-role/" in arn:
                raise ValueError(f"{arn!r} is not an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)")
        return value

    @field_validator("node_instance_types")
    @classmethod
    def _instance_types(cls, value: Optional[list[str]]) -> Optional[list[str]]:
        if value is not None:
            if not value:
                raise ValueError("give at least one EC2 instance type, e.g. [m6i.xlarge]")
            for instance in value:
                if not rules.EC2_INSTANCE.match(instance):
                    raise ValueError(f"{instance!r} is not an EC2 instance type such as m6i.xlarge")
        return value

    @field_validator("postgres_version")
    @classmethod
    def _postgres_version(cls, value: str) -> str:
        match = re.match(r"^(\d+)(\.\d+)?$", value)
        if not match or int(match.group(1)) < 16:
            raise ValueError("give PostgreSQL 16 or newer, as a major version (17) or major.minor (17.5)")
        return value

    @field_validator("rds_instance_class")
    @classmethod
    def _rds_class(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not rules.RDS_CLASS.match(value):
            raise ValueError(f"{value!r} is not an RDS instance class such as db.m7g.large")
        return value

    @field_validator("redis_node_type")
    @classmethod
    def _cache_node(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not rules.CACHE_NODE.match(value):
            raise ValueError(f"{value!r} is not an ElastiCache node type such as cache.r7g.large")
        return value

    @field_validator("hosted_zone")
    @classmethod
    def _zone(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        value = value.strip().lower().rstrip(".")
        if not re.match(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", value):
            raise ValueError(f"{value!r} is not a DNS zone name such as example.com")
        return rules.hostname(value, allow_ip=False)

    @field_validator("certificate_arn")
    @classmethod
    def _certificate(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _ACM.match(value):
            raise ValueError("give an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "AwsSettings":
        existing = (self.vpc_id is not None, bool(self.private_subnet_ids), bool(self.public_subnet_ids))
        if any(existing) and not all(existing):
            missing = [k for k, given in zip(("vpcId", "privateSubnetIds", "publicSubnetIds"), existing) if not given]
            raise KeyedError(
                f"aws.{missing[0]}",
                "an existing VPC needs aws.vpcId, aws.privateSubnetIds and aws.publicSubnetIds together "
                "(or none of them for a new VPC)"
            )
        if self.vpc_id is not None:
            for key, ids in (("privateSubnetIds", self.private_subnet_ids),
                             ("publicSubnetIds", self.public_subnet_ids)):
                if len(set(ids)) != len(ids):
                    raise KeyedError(f"aws.{key}", f"aws.{key} lists a subnet twice; give each subnet once")
            shared = sorted(set(self.private_subnet_ids) & set(self.public_subnet_ids))
            if shared:
                raise KeyedError("aws.publicSubnetIds",
                                 f"{', '.join(shared)} is listed as both private and public; a subnet routes either "
                                 "through a NAT (private) or an internet gateway (public)")
            if len(self.private_subnet_ids) < 2 or len(self.public_subnet_ids) < 2:
                raise KeyedError(
                    "aws.privateSubnetIds" if len(self.private_subnet_ids) < 2 else "aws.publicSubnetIds",
                    "aws.privateSubnetIds and aws.publicSubnetIds need two or more subnets each, in different "
                    "availability zones (EKS, RDS and ElastiCache require two zones)"
                )
            if self.nat_gateways is not None:
                raise KeyedError("aws.natGateways",
                                 "aws.natGateways applies to a new VPC; an existing VPC keeps its own routing")
        sizes = [s for s in (self.node_min_size, self.node_desired_size, self.node_max_size) if s is not None]
        if len(sizes) == 3 and not self.node_min_size <= self.node_desired_size <= self.node_max_size:  # type: ignore[operator]
            raise KeyedError("aws.nodeDesiredSize",
                             "aws.nodeMinSize <= aws.nodeDesiredSize <= aws.nodeMaxSize must hold")
        if self.hosted_zone is not None and self.certificate_arn is not None:
            raise KeyedError(
                "aws.certificateArn",
                "aws.hostedZone and aws.certificateArn both provide the certificate; with a hosted zone an ACM "
                "certificate is issued and validated here, so set only one"
            )
        if self.certificate_arn is not None and self.certificate_arn.split(":")[3] != self.region:
            raise KeyedError("aws.certificateArn",
                             f"the certificate is in {self.certificate_arn.split(':')[3]}, the load balancer in "
                             f"{self.region}; ACM certificates serve only their own region: import or issue it in "
                             f"{self.region}")
        if self.dr is not None:
            self._dr_fits(self.dr)
        return self

    def _dr_fits(self, dr: AwsDrSettings) -> None:
        if dr.standby_region == self.region:
            raise KeyedError("aws.dr.standbyRegion",
                             f"the standby region must differ from aws.region ({self.region}): a region outage takes "
                             "both down otherwise; pick another region, e.g. us-west-2 for us-east-1")
        if self.vpc_id is None and ipaddress.ip_network(dr.standby_vpc_cidr).overlaps(ipaddress.ip_network(self.vpc_cidr)):
            raise KeyedError("aws.dr.standbyVpcCidr",
                             f"{dr.standby_vpc_cidr} overlaps aws.vpcCidr {self.vpc_cidr}; give a range apart from it "
                             "(e.g. 10.1.0.0/16), so the two VPCs can be peered")

    @property
    def existing_vpc(self) -> bool:
        return self.vpc_id is not None
