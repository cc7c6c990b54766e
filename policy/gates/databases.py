"""no-public-databases: databases and caches are reachable from their network only."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .inputs import entries, is_true, opens_to_internet

PUBLICLY_ACCESSIBLE = {"aws:rds/instance:Instance", "aws:rds/clusterInstance:ClusterInstance"}
WHITELISTED = {"alicloud:rds/instance:Instance", "alicloud:kvstore/instance:Instance"}
# Each of these gives a database or cache an Internet address.
PUBLIC_ENDPOINTS = {"alicloud:rds/connection:Connection", "alicloud:kvstore/connection:Connection",
                    "alicloud:rds/dbProxyPublic:DbProxyPublic"}


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if args.resource_type in PUBLICLY_ACCESSIBLE and is_true(props, "publiclyAccessible"):
        report("publiclyAccessible is true: set it to false")
    if args.resource_type in WHITELISTED:
        open_entries = [e for e in entries(props.get("securityIps")) if opens_to_internet(e)]
        if open_entries:
            report(f"securityIps admits the Internet ({', '.join(open_entries)}): list the VPC or pod ranges only")
    if args.resource_type == "alicloud:kvstore/instance:Instance" and is_true(props, "enablePublic"):
        report("enablePublic is true: the instance gets an Internet address")
    if args.resource_type in PUBLIC_ENDPOINTS:
        report(f"{args.resource_type} gives the database an Internet address")


no_public_databases = ResourceValidationPolicy(
    name="no-public-databases",
    description="Databases and caches are not reachable from the Internet.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
)
