"""OSS for Dify's files and the plugin daemon's packages.

One private bucket: ACL private, public access blocked, server-side encryption (AES256 by
default, KMS when a key is given), versioning and zone-redundant storage in production (versioning
also when the bucket is replicated, alicloud.dr).

Credentials: Dify's api (`oss2.Auth`/`AuthV4` with ALIYUN_OSS_ACCESS_KEY / _SECRET_KEY) and the
plugin daemon (dify-cloud-kit's `oss.New(endpoint, key, secret)`) read static AccessKeys only;
neither takes the RRSA/OIDC credential chain. So two RAM users whose only policy is this bucket, one
for Dify's api image (api, worker, beat, websocket, migration) and one for the plugin daemon (which
runs third-party plugin code), each get an AccessKey, kept as a secret in state and handed to the
pods through Kubernetes Secrets: a leaked daemon key is revoked without touching the api's.
Pods reach OSS over its internal (VPC) endpoint.
"""

from __future__ import annotations

import json
from typing import Optional

import pulumi
from components.alicloud.sdk import alicloud
import pulumi_random as random

from components.alicloud.common import cloud_name, stateful, tags
from components.endpoints import ObjectStoreEndpoint
from stacks.settings_alicloud import Sizing

OBJECT_ACTIONS = [
    "oss:GetObject", "oss:PutObject", "oss:DeleteObject", "oss:GetObjectMeta", "oss:HeadObject",
    "oss:AbortMultipartUpload", "oss:ListParts", "oss:InitiateMultipartUpload", "oss:UploadPart",
    "oss:CompleteMultipartUpload",
]
BUCKET_ACTIONS = ["oss:ListObjects", "oss:GetBucketInfo", "oss:GetBucketLocation"]


def internal_endpoint(region: str) -> str:
    return f"https://oss-{region}-internal.aliyuncs.com"


def bucket_policy(bucket: str) -> str:
    """A RAM policy that reaches this bucket and nothing else."""
    return json.dumps({
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": BUCKET_ACTIONS, "Resource": [f"acs:oss:*:*:{bucket}"]},
            {"Effect": "Allow", "Action": OBJECT_ACTIONS, "Resource": [f"acs:oss:*:*:{bucket}/*"]},
        ],
    })


class OssStorage(pulumi.ComponentResource):
    def __init__(self, name: str, region: str, sizing: Sizing, bucket_name: Optional[str] = None,
                 versioned: Optional[bool] = None, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:alicloud:OssStorage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if bucket_name is None:
            # Bucket names are global: a stable random suffix keeps them unique.
            suffix = random.RandomString(f"{name}-suffix", length=8, special=False, upper=False, opts=child)
            bucket_name = suffix.result.apply(lambda s: cloud_name(f"{name}-{s}", 63))
        self.bucket = alicloud.oss.Bucket(
            f"{name}-bucket", bucket=bucket_name,
            redundancy_type="ZRS" if sizing.multi_zone_data else "LRS",
            storage_class="Standard", force_destroy=False, tags=tags(),
            opts=stateful(self, sizing.production),
        )
        on_bucket = pulumi.ResourceOptions(parent=self, depends_on=[self.bucket])
        alicloud.oss.BucketAcl(f"{name}-acl", bucket=self.bucket.bucket, acl="private", opts=on_bucket)
        alicloud.oss.BucketPublicAccessBlock(f"{name}-public-access-block", bucket=self.bucket.bucket,
                                             block_public_access=True, opts=on_bucket)
        alicloud.oss.BucketServerSideEncryption(f"{name}-encryption", bucket=self.bucket.bucket,
                                                sse_algorithm="AES256", opts=on_bucket)
        # Versioning: in production, and when the bucket is replicated (both ends must match).
        self.versioning: Optional[alicloud.oss.BucketVersioning] = None
        if sizing.production if versioned is None else versioned:
            self.versioning = alicloud.oss.BucketVersioning(f"{name}-versioning", bucket=self.bucket.bucket,
                                                            status="Enabled", opts=on_bucket)

        policy = alicloud.ram.Policy(
            f"{name}-policy", policy_name=cloud_name(f"{name}-oss-bucket", 128),
            policy_document=self.bucket.bucket.apply(bucket_policy),
            description="Dify: read and write the one Dify bucket", opts=child,
        )
        keys = {}
        for consumer, suffix, display in (("", "oss", "Dify object storage"),
                                          ("plugin-", "oss-plugin", "Dify plugin daemon object storage")):
            user = alicloud.ram.User(
                f"{name}-{consumer}user", name=cloud_name(f"{name}-{suffix}", 64),
                display_name=display, comments="Reaches only the Dify bucket", opts=child,
            )
            alicloud.ram.UserPolicyAttachment(
                f"{name}-{consumer}policy", user_name=user.name, policy_name=policy.policy_name, policy_type="Custom",
                opts=child,
            )
            keys[consumer] = alicloud.ram.AccessKey(
                f"{name}-{consumer}key", user_name=user.name, status="Active",
                opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["secret"]),
            )
        self.endpoint_url = internal_endpoint(region)
        self.endpoint = ObjectStoreEndpoint(
            kind="oss", bucket=self.bucket.bucket, plugin_bucket=self.bucket.bucket, region=region,
            endpoint=self.endpoint_url,
            access_key=pulumi.Output.secret(keys[""].id), secret_key=pulumi.Output.secret(keys[""].secret),
            plugin_access_key=pulumi.Output.secret(keys["plugin-"].id),
            plugin_secret_key=pulumi.Output.secret(keys["plugin-"].secret),
        )
        self.register_outputs({"bucket": self.bucket.bucket})
