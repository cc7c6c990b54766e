"""Disaster recovery on Alibaba Cloud: OSS Cross-Region Replication of the Dify bucket and RDS
cross-region backups, both into the standby region.

- The replica bucket: private like the source (ACL private, public access blocked, AES256), versioned
  as the source must then be (OSS replicates only between buckets of the same versioning state),
  named after the source and the standby region; a RAM policy reaching only the replica, for the
  standby stack's AccessKey.
- The replication rule copies objects that existed before it (historical replication) and every new
  write; deletions only with `replicate_deletes` (action ALL, else PUT). Replication Time Control
  (`time_control`) where the region pair offers it.
- RDS cross-region backups (`RdsInstanceCrossBackupPolicy`): every full backup is copied to the
  standby region and kept `retention_days` there, with the logs when `log_backup` is on (restores to a
  point in time). They outlive the instance. Not available for instances with cloud disk encryption.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
from components.alicloud.sdk import alicloud

from components.alicloud.common import cloud_name, stateful, tags
from components.alicloud.storage import bucket_policy


@dataclass(frozen=True)
class CrossRegionOptions:
    standby_region: str
    replicate_deletes: bool = False
    time_control: bool = False
    retention_days: int = 7
    log_backup: bool = True


def replica_name(source: str, standby_region: str) -> str:
    return cloud_name(f"{source[:62 - len(standby_region)]}-{standby_region}", 63)


class OssReplica(pulumi.ComponentResource):
    def __init__(self, name: str, *, source: alicloud.oss.Bucket, source_versioning: alicloud.oss.BucketVersioning,
                 options: CrossRegionOptions, redundancy_type: str, production: bool,
                 standby: alicloud.Provider, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:alicloud:OssReplica", name, None, opts)
        self.bucket = alicloud.oss.Bucket(
            f"{name}-bucket", bucket=source.bucket.apply(lambda b: replica_name(b, options.standby_region)),
            redundancy_type=redundancy_type, storage_class="Standard", force_destroy=False, tags=tags({"dify-dr": "replica"}),
            opts=stateful(self, production, provider=standby))
        on_bucket = pulumi.ResourceOptions(parent=self, provider=standby, depends_on=[self.bucket])
        alicloud.oss.BucketAcl(f"{name}-acl", bucket=self.bucket.bucket, acl="private", opts=on_bucket)
        alicloud.oss.BucketPublicAccessBlock(f"{name}-public-access-block", bucket=self.bucket.bucket,
                                             block_public_access=True, opts=on_bucket)
        alicloud.oss.BucketServerSideEncryption(f"{name}-encryption", bucket=self.bucket.bucket,
                                                sse_algorithm="AES256", opts=on_bucket)
        versioning = alicloud.oss.BucketVersioning(f"{name}-versioning", bucket=self.bucket.bucket, status="Enabled",
                                                   opts=on_bucket)
        self.replication = alicloud.oss.BucketReplication(
            f"{name}-replication", bucket=source.bucket,
            destination={"bucket": self.bucket.bucket, "location": f"oss-{options.standby_region}"},
            action="ALL" if options.replicate_deletes else "PUT",
            historical_object_replication="enabled",
            rtc={"enabled": True} if options.time_control else None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[source_versioning, versioning]))
        # RAM is global: this policy (the replica and nothing else) outlives the primary region, for the
        # AccessKey the failover runbook makes for the standby stack.
        self.policy = alicloud.ram.Policy(
            f"{name}-policy", policy_name=cloud_name(f"{name}-oss-bucket", 128),
            policy_document=self.bucket.bucket.apply(bucket_policy),
            description="Dify standby: read and write the replica of the Dify bucket",
            opts=pulumi.ResourceOptions(parent=self))
        self.name: pulumi.Output[str] = self.bucket.bucket
        self.register_outputs({"bucket": self.name})


def cross_region_backups(name: str, instance: alicloud.rds.Instance, options: CrossRegionOptions,
                         depends_on: list[pulumi.Resource],
                         opts: pulumi.ResourceOptions) -> alicloud.rds.RdsInstanceCrossBackupPolicy:
    return alicloud.rds.RdsInstanceCrossBackupPolicy(
        name, instance_id=instance.id, cross_backup_region=options.standby_region,
        retention=options.retention_days, log_backup_enabled="Enable" if options.log_backup else "Disabled",
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=depends_on)))
