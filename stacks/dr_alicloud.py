"""Disaster recovery on target alicloud (`alicloud.dr`): what the primary stack keeps ready in the
standby region: the bucket's replica (OSS CRR) and RDS cross-region backups. The standby stack is
brought up only on failover (scripts/dr/failover_alicloud.sh), from the `disasterRecovery` output.
Alidns has no health-checked failover of its own: the runbook switches the record.
"""

from __future__ import annotations

from typing import Optional

import pulumi
from components.alicloud.sdk import alicloud

from components.alicloud.postgres import ManagedPostgres
from components.alicloud.replication import CrossRegionOptions, OssReplica, cross_region_backups
from components.alicloud.storage import OssStorage, internal_endpoint
from stacks.config import StackConfig


def versioned(config: StackConfig, production: bool) -> bool:
    """OSS replicates only between buckets of the same versioning state; both are versioned."""
    return production or (config.alicloud is not None and config.alicloud.dr is not None)


def deploy(config: StackConfig, *, name: str, storage: Optional[OssStorage], postgres: Optional[ManagedPostgres],
           production: bool, multi_zone: bool) -> Optional[dict[str, object]]:
    ali = config.alicloud
    assert ali is not None
    dr = ali.dr
    if dr is None:
        return None
    options = CrossRegionOptions(standby_region=dr.standby_region, replicate_deletes=dr.replicate_deletes,
                                 time_control=dr.replication_time_control, retention_days=dr.backup_retention_days,
                                 log_backup=dr.log_backup)
    outputs: dict[str, object] = {"primaryRegion": ali.region, "standbyRegion": dr.standby_region}
    if storage is not None:
        assert storage.versioning is not None
        standby = alicloud.Provider(f"{name}-alicloud-standby", region=dr.standby_region)
        replica = OssReplica(f"{name}-files-replica", source=storage.bucket, source_versioning=storage.versioning,
                             options=options, redundancy_type="ZRS" if multi_zone else "LRS", production=production,
                             standby=standby)
        outputs.update(replicaBucket=replica.name, replicaEndpoint=internal_endpoint(dr.standby_region),
                       replicaPolicyName=replica.policy.policy_name)
    else:
        pulumi.log.warn("alicloud.dr: objectStorage.mode external is not replicated here; replicate that bucket "
                        "with its own tooling")
    if postgres is not None:
        policy = cross_region_backups(f"{name}-postgres-cross-region-backups", postgres.instance, options,
                                      depends_on=postgres.ready, opts=pulumi.ResourceOptions(parent=postgres))
        outputs.update(sourceDbInstanceId=postgres.instance.id, crossBackupRegion=policy.cross_backup_region,
                       backupRetentionDays=dr.backup_retention_days, logBackup=dr.log_backup,
                       dbEngineVersion=postgres.instance.engine_version, dbInstanceType=postgres.instance.instance_type,
                       dbStorageGb=postgres.instance.instance_storage, dbStorageType=ali.rds.storage_type,
                       dbUser=config.postgres.user)
    if config.domain and ali.dns_zone:
        outputs.update(domain=config.domain, dnsZone=ali.dns_zone)
    else:
        pulumi.log.warn("alicloud.dr: postgres.mode external is not replicated here; replicate that server with "
                        "its own tooling")
    return outputs
