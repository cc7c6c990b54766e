"""encryption-at-rest: data stores encrypt what they keep.
encryption-in-transit: clients reach the data stores over TLS only."""

from __future__ import annotations

import re

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .buckets import OSS_BUCKETS, OSS_ENCRYPTION, S3_ENCRYPTION
from .inputs import is_true

RDS = {"aws:rds/instance:Instance", "aws:rds/cluster:Cluster"}
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
S3_ALGORITHMS = {"AES256", "aws:kms", "aws:kms:dsse"}
OSS_ALGORITHMS = {"AES256", "KMS", "SM4"}
RDS_PARAMETERS = "aws:rds/parameterGroup:ParameterGroup"
OPENSEARCH = "aws:opensearch/domain:Domain"
# RDS for PostgreSQL enforces TLS by default from version 15 (rds.force_ssl defaults to 1).
_POSTGRES_FAMILY = re.compile(r"^postgres(\d+)$")


def validate_at_rest(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if args.resource_type in RDS and not is_true(props, "storageEncrypted"):
        report("storageEncrypted must be true")
    if args.resource_type == REPLICATION_GROUP:
        # The provider turns it on by default for Valkey only.
        default = props.get("engine") == "valkey"
        if props.get("atRestEncryptionEnabled", default) is not True:
            report("atRestEncryptionEnabled must be true")
    if args.resource_type == OPENSEARCH and not is_true(props.get("encryptAtRest") or {}, "enabled"):
        report("encryptAtRest.enabled must be true")
    if args.resource_type in S3_ENCRYPTION:
        rules = props.get("rules") or []
        algorithms = [((rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")) for rule in rules]
        if not algorithms or any(a not in S3_ALGORITHMS for a in algorithms):
            report(f"every rule needs applyServerSideEncryptionByDefault.sseAlgorithm in {sorted(S3_ALGORITHMS)}")
    if args.resource_type in OSS_ENCRYPTION and props.get("sseAlgorithm") not in OSS_ALGORITHMS:
        report(f"sseAlgorithm must be one of {sorted(OSS_ALGORITHMS)}")
    if args.resource_type in OSS_BUCKETS and props.get("serverSideEncryptionRule"):
        if props["serverSideEncryptionRule"].get("sseAlgorithm") not in OSS_ALGORITHMS:
            report(f"serverSideEncryptionRule.sseAlgorithm must be one of {sorted(OSS_ALGORITHMS)}")


def validate_in_transit(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if args.resource_type == REPLICATION_GROUP:
        if not is_true(props, "transitEncryptionEnabled"):
            report("transitEncryptionEnabled must be true")
        if props.get("transitEncryptionMode") not in (None, "required"):
            report("transitEncryptionMode must be required (preferred still accepts plain connections)")
    if args.resource_type == OPENSEARCH:
        if not is_true(props.get("nodeToNodeEncryption") or {}, "enabled"):
            report("nodeToNodeEncryption.enabled must be true")
        if not is_true(props.get("domainEndpointOptions") or {}, "enforceHttps"):
            report("domainEndpointOptions.enforceHttps must be true")
    if args.resource_type == RDS_PARAMETERS:
        family = _POSTGRES_FAMILY.match(props.get("family") or "")
        if family:
            force_ssl = {p.get("name"): str(p.get("value")) for p in props.get("parameters") or []}.get("rds.force_ssl")
            if force_ssl == "0" or (force_ssl is None and int(family.group(1)) < 15):
                report("rds.force_ssl must be 1")


encryption_at_rest = ResourceValidationPolicy(
    name="encryption-at-rest",
    description="Databases, caches and buckets encrypt their data at rest.",
    validate=validate_at_rest,
    enforcement_level=EnforcementLevel.MANDATORY,
)

encryption_in_transit = ResourceValidationPolicy(
    name="encryption-in-transit",
    description="Databases and caches accept TLS connections only.",
    validate=validate_in_transit,
    enforcement_level=EnforcementLevel.MANDATORY,
)
