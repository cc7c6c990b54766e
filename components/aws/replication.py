"""S3 Cross-Region Replication of the Dify bucket to a replica in the standby region.

- The replica: private like the source (public access blocked, ACLs off, TLS-only policy), versioned
  (replication requires versioning on both sides), SSE-KMS with a key of the standby region and an S3
  bucket key; a lifecycle expires overwritten versions after `noncurrent_days`.
- The source objects are SSE-KMS (the `aws/s3` key): the rule selects KMS-encrypted objects and
  re-encrypts replicas with the standby key. With bucket keys on, S3 asks KMS under the *bucket* ARN as
  encryption context (objects written before bucket keys under the object ARN): the role's KMS
  conditions allow both.
- The replication role may read versions of this bucket for replication, write replicas into the one
  replica bucket, and use the two keys only through S3 in their regions, for these buckets.
- Delete markers follow only with `replicate_deletes` (then the role may `s3:ReplicateDelete`).
  Removing a version (DELETE with a version ID) never replicates: the replica keeps it.
- Replication Time Control: 99.99% of new objects within 15 minutes (SLA), with replication metrics.
- Live replication copies objects written after the rule exists; objects already in the bucket need
  a one-off S3 Batch Replication job (see README).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
from components.aws.sdk import aws

from components.aws import iam
from components.aws.storage import private_bucket

KEY_USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]


@dataclass(frozen=True)
class ReplicationOptions:
    noncurrent_days: int = 30
    replicate_deletes: bool = False
    time_control: bool = False


def s3_key_policy(account: str, partition: str, region: str) -> str:
    """The account administers the key; any principal of the account may use it through S3 in its region,
    as with the `aws/s3` key, so the standby stack's roles reach the replica with S3 permissions alone."""
    return iam.document([
        {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "UseThroughS3", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": KEY_USE, "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": account, "kms:ViaService": f"s3.{region}.amazonaws.com"}}},
    ])


def replication_trust(account: str) -> str:
    return iam.document([{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account}},
    }])


def _through_s3(region: str, bucket_arn: str) -> dict:
    return {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]}}


def replication_statements(*, source_arn: str, replica_arn: str, source_region: str, standby_region: str,
                           source_key_arns: str, replica_key_arn: str, replicate_deletes: bool) -> list[iam.Statement]:
    replicate = ["s3:ReplicateObject", "s3:ReplicateTags"] + (["s3:ReplicateDelete"] if replicate_deletes else [])
    return [
        {"Sid": "ReadReplicationConfiguration", "Effect": "Allow",
         "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"], "Resource": source_arn},
        {"Sid": "ReadSourceVersions", "Effect": "Allow",
         "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
         "Resource": f"{source_arn}/*"},
        {"Sid": "WriteReplicas", "Effect": "Allow", "Action": replicate, "Resource": f"{replica_arn}/*"},
        {"Sid": "DecryptSource", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": source_key_arns,
         "Condition": _through_s3(source_region, source_arn)},
        {"Sid": "EncryptReplicas", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
         "Resource": replica_key_arn, "Condition": _through_s3(standby_region, replica_arn)},
    ]


class S3Replica(pulumi.ComponentResource):
    def __init__(self, name: str, *, source: aws.s3.Bucket, source_versioning: aws.s3.BucketVersioning,
                 source_region: str, standby_region: str, account: str, partition: str,
                 options: ReplicationOptions, production: bool, standby: aws.Provider,
                 bucket_name: Optional[str] = None, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:aws:S3Replica", name, None, opts)
        in_standby = pulumi.ResourceOptions(parent=self, provider=standby)
        stateful = pulumi.ResourceOptions(parent=self, provider=standby, protect=production)

        # Deleting the key would make every replica unreadable: kept like the data, with the longest window.
        self.key = aws.kms.Key(
            f"{name}-key", description=f"{name}: the Dify bucket's replica in {standby_region}",
            enable_key_rotation=True, deletion_window_in_days=30,
            policy=s3_key_policy(account, partition, standby_region), opts=stateful)
        aws.kms.Alias(f"{name}-key-alias", name=f"alias/{name}", target_key_id=self.key.key_id, opts=in_standby)

        self.bucket = aws.s3.Bucket(f"{name}-bucket", bucket=bucket_name, force_destroy=False, opts=stateful)
        on_bucket = pulumi.ResourceOptions(parent=self.bucket, provider=standby)
        private_bucket(name, self.bucket, on_bucket, kms_key_arn=self.key.arn)
        versioning = aws.s3.BucketVersioning(f"{name}-versioning", bucket=self.bucket.id,
                                             versioning_configuration={"status": "Enabled"}, opts=on_bucket)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=self.bucket.id,
            rules=[{"id": "expire-old-versions", "status": "Enabled", "filter": {},
                    "noncurrent_version_expiration": {"noncurrent_days": options.noncurrent_days},
                    "expiration": {"expired_object_delete_marker": True},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7}}],
            opts=pulumi.ResourceOptions(parent=self.bucket, provider=standby, depends_on=[versioning]))

        # The source's SSE default is the account's `aws/s3` key of the source region.
        source_key = f"arn:{partition}:kms:{source_region}:{account}:key/*"
        self.role = aws.iam.Role(f"{name}-role", description=f"{name}: S3 replication of the Dify bucket",
                                 assume_role_policy=replication_trust(account), opts=pulumi.ResourceOptions(parent=self))
        self.policy = pulumi.Output.all(source.arn, self.bucket.arn, self.key.arn).apply(
            lambda a: iam.document(replication_statements(
                source_arn=a[0], replica_arn=a[1], source_region=source_region, standby_region=standby_region,
                source_key_arns=source_key, replica_key_arn=a[2], replicate_deletes=options.replicate_deletes)))
        policy = aws.iam.RolePolicy(f"{name}-role-policy", role=self.role.id, policy=self.policy,
                                    opts=pulumi.ResourceOptions(parent=self.role))

        destination: dict = {
            "bucket": self.bucket.arn, "storage_class": "STANDARD",
            "encryption_configuration": {"replica_kms_key_id": self.key.arn},
        }
        if options.time_control:
            destination.update(
                replication_time={"status": "Enabled", "time": {"minutes": 15}},
                metrics={"status": "Enabled", "event_threshold": {"minutes": 15}})
        self.configuration = aws.s3.BucketReplicationConfig(
            f"{name}-replication", bucket=source.id, role=self.role.arn,
            rules=[{
                "id": "dify-to-standby", "status": "Enabled", "priority": 1, "filter": {},
                "delete_marker_replication": {"status": "Enabled" if options.replicate_deletes else "Disabled"},
                "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
                "destination": destination,
            }],
            # S3 refuses a replication configuration before versioning is on, on either side.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[source_versioning, versioning, policy]))

        self.name: pulumi.Output[str] = self.bucket.bucket
        self.register_outputs({"bucket": self.name, "keyArn": self.key.arn})
