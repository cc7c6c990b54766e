"""Production only (see stack.py).
high-availability: databases and caches keep a standby in a second zone and fail over to it.
deletion-protection: stateful resources survive a mistaken `pulumi destroy` or console delete."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .buckets import OSS_BUCKETS, S3_BUCKETS
from .encryption import OPENSEARCH, RDS, REPLICATION_GROUP
from .inputs import is_true
from .stack import is_production

ALI_RDS = "alicloud:rds/instance:Instance"
ALI_KVSTORE = "alicloud:kvstore/instance:Instance"
HA_CATEGORIES = {"HighAvailability", "AlwaysOn", "Finance", "cluster"}
# Type -> the input that guards it against deletion at the cloud (None: `protect` only).
STATEFUL = {
    **{t: "deletionProtection" for t in RDS},
    REPLICATION_GROUP: None,
    ALI_RDS: "deletionProtection",
    ALI_KVSTORE: "instanceReleaseProtection",
    **{t: None for t in S3_BUCKETS | OSS_BUCKETS},
    # The vector stores (vectorStore.kind).
    OPENSEARCH: None,
    "alicloud:gpdb/instance:Instance": None,
    "alicloud:ots/instance:Instance": None,
}


def _in_other_zone(props, key: str) -> bool:
    standby = props.get(key)
    return bool(standby) and standby != props.get("zoneId")


def validate_ha(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_production():
        return
    props = args.props
    if args.resource_type == "aws:rds/instance:Instance" and not is_true(props, "multiAz"):
        report("multiAz must be true in production")
    if args.resource_type == REPLICATION_GROUP:
        for key in ("automaticFailoverEnabled", "multiAzEnabled"):
            if not is_true(props, key):
                report(f"{key} must be true in production")
    if args.resource_type == ALI_RDS:
        if props.get("category") not in HA_CATEGORIES:
            report(f"category is {props.get('category')}: production needs one of {sorted(HA_CATEGORIES)}")
        if not _in_other_zone(props, "zoneIdSlaveA"):
            report("zoneIdSlaveA must name a second zone for the standby")
    if args.resource_type == ALI_KVSTORE and not _in_other_zone(props, "secondaryZoneId"):
        report("secondaryZoneId must name a second zone for the replica")


def validate_deletion(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_production() or args.resource_type not in STATEFUL:
        return
    props = args.props
    guard = STATEFUL[args.resource_type]
    if guard and not is_true(props, guard):
        report(f"{guard} must be true in production")
    if not args.opts.protect:
        report("the resource must be declared with protect in production")
    if is_true(props, "forceDestroy"):
        report("forceDestroy must not be true: it deletes the bucket's objects with it")


high_availability = ResourceValidationPolicy(
    name="high-availability",
    description="In production, databases and caches run with a standby in a second zone.",
    validate=validate_ha,
    enforcement_level=EnforcementLevel.MANDATORY,
)

deletion_protection = ResourceValidationPolicy(
    name="deletion-protection",
    description="In production, databases, caches and buckets are protected from deletion.",
    validate=validate_deletion,
    enforcement_level=EnforcementLevel.MANDATORY,
)
