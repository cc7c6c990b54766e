"""egress-excepts-metadata: a NetworkPolicy egress ipBlock that covers a cloud metadata address
excepts it (169.254.169.254, AWS's; 100.100.100.200, Alibaba Cloud's).
dify-api-namespace-restricted: the namespace holding Dify's api enforces Pod Security `restricted`.
no-shared-cloud-role: the api and the plugin daemon (which runs third-party plugin code) do not share
a service account bound to a cloud role, nor two accounts bound to the same role."""

from __future__ import annotations

import ipaddress
from typing import Any, Optional

from pulumi_policy import (
    EnforcementLevel, PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy,
    StackValidationArgs, StackValidationPolicy,
)

METADATA = ("169.254.169.254", "100.100.100.200")
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")
ROLE_ANNOTATIONS = ("eks.amazonaws.com/role-arn", "pod-identity.alibabacloud.com/role-name")
NAME_LABEL = "app.kubernetes.io/name"


def _covers(cidr: str, address: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def validate_metadata_excepted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != NETWORK_POLICY:
        return
    for rule in ((args.props.get("spec") or {}).get("egress") or []):
        for peer in rule.get("to") or []:
            block = peer.get("ipBlock")
            if not block:
                continue
            for address in METADATA:
                if _covers(block.get("cidr", ""), address) and not any(
                        _covers(e, address) for e in block.get("except") or []):
                    report(f"egress to {block.get('cidr')} reaches the metadata address {address}: "
                           f"add it (or 169.254.0.0/16) to the ipBlock's except")


def _meta(resource: PolicyResource) -> dict[str, Any]:
    return resource.props.get("metadata") or {}


def _pod_spec(resource: PolicyResource) -> dict[str, Any]:
    return (((resource.props.get("spec") or {}).get("template") or {}).get("spec")) or {}


def _workload(resource: PolicyResource) -> Optional[str]:
    template = (resource.props.get("spec") or {}).get("template") or {}
    return ((template.get("metadata") or {}).get("labels") or {}).get(NAME_LABEL)


def validate_api_namespace(args: StackValidationArgs, report: ReportViolation) -> None:
    levels = {_meta(r).get("name"): (_meta(r).get("labels") or {}).get("pod-security.kubernetes.io/enforce")
              for r in args.resources if r.resource_type == NAMESPACE}
    for r in args.resources:
        if r.resource_type in WORKLOADS and _workload(r) == "api":
            namespace = _meta(r).get("namespace")
            if namespace in levels and levels[namespace] != "restricted":
                report(f"Dify's api runs in namespace {namespace}, which enforces Pod Security "
                       f"{levels[namespace] or 'nothing'}: enforce restricted there", r.urn)


def validate_no_shared_role(args: StackValidationArgs, report: ReportViolation) -> None:
    roles: dict[tuple[Any, Any], Any] = {}
    for r in args.resources:
        if r.resource_type == SERVICE_ACCOUNT:
            annotations = _meta(r).get("annotations") or {}
            role = next((annotations[a] for a in ROLE_ANNOTATIONS if annotations.get(a)), None)
            if role is not None:
                roles[(_meta(r).get("namespace"), _meta(r).get("name"))] = role
    identity: dict[str, tuple[Any, Any]] = {}
    for r in args.resources:
        name = _workload(r) if r.resource_type in WORKLOADS else None
        if name in ("api", "plugin-daemon"):
            account = (_meta(r).get("namespace"), _pod_spec(r).get("serviceAccountName") or "default")
            if account in roles:
                identity[name] = account
    if len(identity) == 2 and roles[identity["api"]] == roles[identity["plugin-daemon"]]:
        report("the api and the plugin daemon run with the same cloud role (service accounts "
               f"{identity['api'][1]} and {identity['plugin-daemon'][1]}): give the plugin daemon its own")


egress_excepts_metadata = ResourceValidationPolicy(
    name="egress-excepts-metadata",
    description="NetworkPolicy egress ipBlocks that cover a cloud metadata address except it.",
    validate=validate_metadata_excepted,
    enforcement_level=EnforcementLevel.MANDATORY,
)

dify_api_namespace_restricted = StackValidationPolicy(
    name="dify-api-namespace-restricted",
    description="The namespace holding Dify's api enforces Pod Security restricted.",
    validate=validate_api_namespace,
    enforcement_level=EnforcementLevel.MANDATORY,
)

no_shared_cloud_role = StackValidationPolicy(
    name="no-shared-cloud-role",
    description="Dify's api and plugin daemon do not share a cloud role.",
    validate=validate_no_shared_role,
    enforcement_level=EnforcementLevel.MANDATORY,
)
