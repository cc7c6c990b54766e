"""Disaster recovery on target aws (`aws.dr`): what the primary stack keeps ready in the standby region.

A provider for the standby region -> the bucket's replica (S3 CRR, KMS key there) -> RDS automated
backups replicated there -> a standby network with a DB subnet group to restore into -> optionally
Route 53 failover records. The standby stack itself is brought up only on failover
(scripts/dr/failover_aws.sh), from the `disasterRecovery` output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pulumi
from components.aws.sdk import aws

from components.aws import failover
from components.aws.entry import zone_for
from components.aws.postgres import RdsPostgres
from components.aws.replication import ReplicationOptions, S3Replica
from components.aws.sizing import PRESETS
from components.aws.standby import StandbySite
from components.aws.storage import S3Storage
from stacks.budget import rds_max_connections
from stacks.config import StackConfig
from stacks.loader import ConfigError
from stacks.settings_aws import AwsDrSettings


@dataclass
class DisasterRecovery:
    settings: AwsDrSettings
    provider: aws.Provider
    outputs: dict[str, object] = field(default_factory=dict)


def problems(config: StackConfig) -> list[str]:
    """What aws.dr cannot do with the rest of the config (reported with the target's other checks)."""
    settings = config.aws
    assert settings is not None
    dr = settings.dr
    if dr is None:
        return []
    found = []
    if config.postgres.mode != "managed" and config.object_storage.mode != "managed" and not dr.failover_records:
        found.append("aws.dr: with postgres.mode and objectStorage.mode not managed there is nothing to replicate; "
                     "replicate your own services with their tooling and remove aws.dr")
    if dr.failover_records:
        if settings.hosted_zone is None or config.domain is None:
            found.append("aws.dr.failoverRecords needs aws.hostedZone and `domain`: the records are made in the zone")
        elif dr.standby_hostname is not None:
            if dr.standby_hostname == config.domain:
                found.append("aws.dr.standbyHostname: give the standby's own name, not `domain` (the failover name)")
            elif not dr.standby_is_load_balancer:
                try:
                    zone_for(dr.standby_hostname, settings.hosted_zone)
                except ValueError:
                    found.append(f"aws.dr.standbyHostname: {dr.standby_hostname} is neither an ALB of "
                                 f"{dr.standby_region} (<name>.{dr.standby_region}.elb.amazonaws.com) nor a name in "
                                 f"aws.hostedZone {settings.hosted_zone}; an alias record can target only those")
    return found


def versioned(config: StackConfig, production: bool) -> bool:
    """S3 replicates only from a versioned bucket."""
    return production or (config.aws is not None and config.aws.dr is not None)


def ingress_host(config: StackConfig) -> Optional[str]:
    """The health check reaches the ALB by its own name: with failover the Ingress takes any host."""
    dr = config.aws.dr if config.aws is not None else None
    return None if dr is not None and dr.failover_records else config.domain


def standby_zones(dr: AwsDrSettings, count: int, provider: aws.Provider) -> list[str]:
    found = aws.get_availability_zones(
        state="available", filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
        opts=pulumi.InvokeOptions(provider=provider))
    names = sorted(found.names)
    if len(names) < 2:
        raise ConfigError(f"{pulumi.get_project()}:aws.dr.standbyRegion: {dr.standby_region} offers {len(names)} "
                          "zone(s); EKS and RDS need two: pick another region")
    return names[:min(count, len(names))]


def deploy(config: StackConfig, *, name: str, account: str, partition: str, storage: Optional[S3Storage],
           postgres: Optional[RdsPostgres], production: bool) -> Optional[DisasterRecovery]:
    settings = config.aws
    assert settings is not None
    dr = settings.dr
    if dr is None:
        return None
    provider = aws.Provider(f"{name}-aws-standby", region=dr.standby_region, default_tags={
        "tags": {"app": "dify", "managed-by": "pulumi", "dify-stack": pulumi.get_stack(), "dify-dr": "standby"}})
    site = DisasterRecovery(dr, provider)
    outputs: dict[str, object] = {"primaryRegion": settings.region, "standbyRegion": dr.standby_region}
    if storage is not None:
        assert storage.versioning is not None
        replica = S3Replica(
            f"{name}-files-replica", source=storage.bucket, source_versioning=storage.versioning,
            source_region=settings.region, standby_region=dr.standby_region, account=account, partition=partition,
            options=ReplicationOptions(
                noncurrent_days=dr.replica_noncurrent_days, replicate_deletes=dr.replicate_deletes,
                time_control=production if dr.replication_time_control is None else dr.replication_time_control),
            production=production, standby=provider,
            bucket_name=(f"{config.object_storage.bucket}-{dr.standby_region}"[:63]
                         if config.object_storage.bucket else None))
        outputs.update(replicaBucket=replica.name, replicaBucketArn=replica.bucket.arn,
                       replicaKmsKeyArn=replica.key.arn, replicationRoleArn=replica.role.arn)
    else:
        pulumi.log.warn("aws.dr: objectStorage.mode external is not replicated here; replicate that bucket with "
                        "its own tooling")
    if postgres is None:
        pulumi.log.warn("aws.dr: postgres.mode external is not replicated here; replicate that server with its own "
                        "tooling")
    retention = dr.backup_retention_days or settings.backup_retention_days or PRESETS[config.size].backup_retention_days
    standby = StandbySite(
        f"{name}-standby", standby=provider, zones=standby_zones(dr, settings.availability_zones, provider),
        vpc_cidr=dr.standby_vpc_cidr, source_db_arn=postgres.instance.arn if postgres is not None else None,
        backup_retention_days=retention, production=production)
    vpc = standby.network.endpoint
    outputs.update(standbyVpcId=vpc.vpc_id, standbyVpcCidr=dr.standby_vpc_cidr,
                   standbyPrivateSubnetIds=vpc.private_subnet_ids, standbyPublicSubnetIds=vpc.public_subnet_ids,
                   standbyDbSubnetGroup=standby.subnet_group.name, standbyDbSecurityGroupId=standby.security_group.id)
    if postgres is not None and standby.backups is not None and standby.backup_key is not None:
        outputs.update(sourceDbInstanceArn=postgres.instance.arn, sourceDbInstanceIdentifier=postgres.instance.identifier,
                       backupReplicationArn=standby.backups.id, backupKmsKeyArn=standby.backup_key.arn,
                       backupRetentionDays=retention, dbInstanceClass=postgres.instance.instance_class,
                       dbMaxConnections=rds_max_connections(
                           settings.rds_instance_class or PRESETS[config.size].rds_instance_class),
                       dbUser=config.postgres.user)
    site.outputs = outputs
    return site


def dns(site: DisasterRecovery, *, name: str, domain: str, zone_id: str, load_balancer_hostname: pulumi.Input[str],
        load_balancer_zone_id: str, https: bool, invoke: pulumi.InvokeOptions,
        opts: pulumi.ResourceOptions) -> aws.route53.Record:
    """The failover pair in place of the simple alias record (`name`); the health check's ID goes to outputs."""
    dr = site.settings
    assert dr.standby_hostname is not None
    check = failover.health_check(f"{name}-primary-health", load_balancer_hostname, https, opts)
    primary, _ = failover.failover_records(
        name, domain, zone_id, load_balancer_hostname, load_balancer_zone_id, check, dr.standby_hostname,
        failover.standby_zone(dr.standby_hostname, dr.standby_region, zone_id, invoke), opts)
    site.outputs.update(healthCheckId=check.id, failoverName=domain, standbyHostname=dr.standby_hostname,
                        hostedZoneId=zone_id)
    return primary
