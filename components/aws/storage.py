"""S3 for Dify's files and the plugin daemon's packages (one bucket; their key prefixes differ).

Private: all public access blocked, objects owned by the bucket owner (ACLs off), SSE-KMS with an S3
bucket key, requests without TLS denied, versioning (with old versions expiring) in production and when
the bucket is replicated (aws.dr),
`protect` in production. Dify's pods reach it through their IRSA role (S3_USE_AWS_MANAGED_IAM):
`workload_statements` grants that role this bucket and nothing else; no static key exists.
"""

from __future__ import annotations

from typing import Optional

import pulumi
from components.aws.sdk import aws

from components.aws import iam
from components.endpoints import ObjectStoreEndpoint

OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                  "s3:ListMultipartUploadParts"]
BUCKET_ACTIONS = ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]


def probe_statements(bucket_arn: str) -> list[iam.Statement]:
    """HeadBucket only: what Dify's S3 storage does when any of its processes starts."""
    return [{"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket_arn}]


def workload_statements(bucket_arn: str) -> list[iam.Statement]:
    return [
        {"Effect": "Allow", "Action": BUCKET_ACTIONS, "Resource": bucket_arn},
        {"Effect": "Allow", "Action": OBJECT_ACTIONS, "Resource": f"{bucket_arn}/*"},
    ]


def tls_only_policy(bucket_arn: str) -> str:
    return iam.document([{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }])


def private_bucket(name: str, bucket: aws.s3.Bucket, opts: pulumi.ResourceOptions,
                   kms_key_arn: Optional[pulumi.Input[str]] = None) -> None:
    """No public access, objects owned by the bucket's account, SSE-KMS with bucket keys (the account's
    S3 key, or `kms_key_arn`), and TLS only."""
    block = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access-block", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
        ignore_public_acls=True, restrict_public_buckets=True, opts=opts)
    aws.s3.BucketOwnershipControls(f"{name}-ownership", bucket=bucket.id,
                                   rule={"object_ownership": "BucketOwnerEnforced"}, opts=opts)
    by_default = {"sse_algorithm": "aws:kms", **({"kms_master_key_id": kms_key_arn} if kms_key_arn else {})}
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption", bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": by_default, "bucket_key_enabled": True}], opts=opts)
    aws.s3.BucketPolicy(f"{name}-tls-only", bucket=bucket.id, policy=bucket.arn.apply(tls_only_policy),
                        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[block])))


class S3Storage(pulumi.ComponentResource):
    def __init__(self, name: str, *, region: str, production: bool, bucket_name: Optional[str] = None,
                 versioned: Optional[bool] = None, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:aws:S3Storage", name, None, opts)
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            # Without a name, Pulumi adds a random suffix: bucket names are global.
            bucket=bucket_name,
            force_destroy=False,
            opts=pulumi.ResourceOptions(parent=self, protect=production),
        )
        on_bucket = pulumi.ResourceOptions(parent=self.bucket)
        private_bucket(name, self.bucket, on_bucket)
        # Versioning: in production, and wherever the bucket is replicated (S3 requires it).
        self.versioning: Optional[aws.s3.BucketVersioning] = None
        if production if versioned is None else versioned:
            versioning = self.versioning = aws.s3.BucketVersioning(
                f"{name}-versioning", bucket=self.bucket.id, versioning_configuration={"status": "Enabled"},
                opts=on_bucket)
            aws.s3.BucketLifecycleConfiguration(
                f"{name}-lifecycle", bucket=self.bucket.id,
                rules=[{"id": "expire-old-versions", "status": "Enabled", "filter": {},
                        "noncurrent_version_expiration": {"noncurrent_days": 30},
                        "abort_incomplete_multipart_upload": {"days_after_initiation": 7}}],
                opts=pulumi.ResourceOptions(parent=self.bucket, depends_on=[versioning]))

        self.name: pulumi.Output[str] = self.bucket.bucket
        self.workload_policy: pulumi.Output[str] = self.bucket.arn.apply(
            lambda arn: iam.document(workload_statements(arn)))
        self.probe_policy: pulumi.Output[str] = self.bucket.arn.apply(lambda arn: iam.document(probe_statements(arn)))
        self.endpoint = ObjectStoreEndpoint(
            kind="s3", bucket=self.name, plugin_bucket=self.name, region=region, use_workload_identity=True,
        )
        self.register_outputs({"bucket": self.name})

