"""no-public-buckets: no object store bucket is readable or writable by anyone.
buckets-are-guarded: every bucket has a public access block and server-side encryption attached."""

from __future__ import annotations

from typing import Any, Mapping

from pulumi_policy import (
    EnforcementLevel, PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy,
    StackValidationArgs, StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}
EVERYONE_GROUPS = ("http://acs.amazonaws.com/groups/global/AllUsers",
                   "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")
S3_BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")

S3_BUCKETS = {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}
OSS_BUCKETS = {"alicloud:oss/bucket:Bucket"}
ACLS = {"aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2", "alicloud:oss/bucketAcl:BucketAcl",
        *S3_BUCKETS, *OSS_BUCKETS}
S3_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OSS_BLOCK = "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock"
# Blocks public access to every bucket of the account.
OSS_ACCOUNT_BLOCK = "alicloud:oss/accountPublicAccessBlock:AccountPublicAccessBlock"
S3_ENCRYPTION = {"aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                 "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"}
OSS_ENCRYPTION = {"alicloud:oss/bucketServerSideEncryption:BucketServerSideEncryption"}


def _grants_everyone(props: Mapping[str, Any]) -> bool:
    policy = props.get("accessControlPolicy") or {}
    return any((grant.get("grantee") or {}).get("uri") in EVERYONE_GROUPS for grant in policy.get("grants") or [])


def validate_public(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if args.resource_type in ACLS:
        if props.get("acl") in PUBLIC_ACLS:
            report(f"acl is {props.get('acl')}: use private")
        if _grants_everyone(props):
            report("the access control policy grants access to every AWS user")
    if args.resource_type == S3_BLOCK:
        off = [flag for flag in S3_BLOCK_FLAGS if props.get(flag) is not True]
        if off:
            report(f"{', '.join(off)} must be true")
    if args.resource_type in (OSS_BLOCK, OSS_ACCOUNT_BLOCK) and props.get("blockPublicAccess") is not True:
        report("blockPublicAccess must be true")


no_public_buckets = ResourceValidationPolicy(
    name="no-public-buckets",
    description="Object store buckets are private: no public ACL, public access blocked.",
    validate=validate_public,
    enforcement_level=EnforcementLevel.MANDATORY,
)


def attached(guard: PolicyResource, bucket: PolicyResource) -> bool:
    """Whether `guard` (a bucket's side resource) applies to `bucket`: through the input it was
    built from (known even in a preview), or else by the bucket's name."""
    if guard.resource_type == OSS_ACCOUNT_BLOCK:
        return guard.props.get("blockPublicAccess") is True
    if bucket.urn in {source.urn for source in guard.property_dependencies.get("bucket", [])}:
        return True
    try:
        name = bucket.props.get("bucket")
        return name is not None and guard.props.get("bucket") == name
    except UnknownValueError:
        return False


def _inline_encryption(bucket: PolicyResource) -> bool:
    """The deprecated in-bucket encryption settings (S3 V2 buckets, OSS `serverSideEncryptionRule`)."""
    props = bucket.props
    return bool(props.get("serverSideEncryptionConfiguration") or props.get("serverSideEncryptionRule"))


def validate_guarded(args: StackValidationArgs, report: ReportViolation) -> None:
    def of(types: set[str]) -> list[PolicyResource]:
        return [r for r in args.resources if r.resource_type in types]

    for buckets, blocks, encryptions in ((of(S3_BUCKETS), of({S3_BLOCK}), of(S3_ENCRYPTION)),
                                         (of(OSS_BUCKETS), of({OSS_BLOCK, OSS_ACCOUNT_BLOCK}), of(OSS_ENCRYPTION))):
        for bucket in buckets:
            if not any(attached(block, bucket) for block in blocks):
                report(f"bucket {bucket.name} has no public access block", bucket.urn)
            if not (_inline_encryption(bucket) or any(attached(sse, bucket) for sse in encryptions)):
                report(f"bucket {bucket.name} has no server-side encryption", bucket.urn)


buckets_are_guarded = StackValidationPolicy(
    name="buckets-are-guarded",
    description="Every bucket has its public access blocked and server-side encryption configured.",
    validate=validate_guarded,
    enforcement_level=EnforcementLevel.MANDATORY,
)
