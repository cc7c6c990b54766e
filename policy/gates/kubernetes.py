"""kubernetes-secrets-from-secret-refs: credentials reach containers through Secrets, never as
plain values in a pod spec.
kubernetes-resource-limits: every container has CPU and memory limits.

The Docker target is left out on purpose: a Docker container can only receive its credentials as
environment values, and the program keeps those values secret in the stack's state."""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

# Type -> path from the object to its pod spec.
POD_SPECS = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:core/v1:ReplicationController": ("spec", "template", "spec"),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = ("initContainers", "containers")
SECRET_WORDS = {"PASSWORD", "PASSWD", "SECRET", "TOKEN", "KEY", "APIKEY", "CREDENTIAL", "CREDENTIALS"}
# scheme://user:password@host
_URL_CREDENTIALS = re.compile(r"://[^/\s@]*:[^/\s@]+@")


def looks_secret(name: str) -> bool:
    """PGPASSWORD, DB_PASSWORD, SECRET_KEY, INNER_API_KEY_FOR_PLUGIN, AWS_ACCESS_KEY_ID, REDISCLI_AUTH..."""
    words = name.upper().split("_")
    # AUTH names a credential at the end only (REDISCLI_AUTH, not ALIYUN_OSS_AUTH_VERSION).
    return words[-1] == "AUTH" or any(w in SECRET_WORDS or "PASSWORD" in w or "SECRET" in w for w in words)


def containers(args: ResourceValidationArgs) -> Iterator[Mapping[str, Any]]:
    path = POD_SPECS.get(args.resource_type)
    if path is None:
        return
    spec: Any = args.props
    for key in path:
        spec = (spec or {}).get(key)
    for key in CONTAINER_LISTS:
        yield from (spec or {}).get(key) or []


def validate_secret_refs(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for container in containers(args):
        for env in container.get("env") or []:
            name, where = env.get("name", ""), f"container {container.get('name')}: {env.get('name')}"
            value_from = env.get("valueFrom")
            if looks_secret(name) and not (value_from and value_from.get("secretKeyRef")):
                report(f"{where} looks like a credential: take it from a Secret (valueFrom.secretKeyRef)")
            elif _URL_CREDENTIALS.search(str(env.get("value") or "")):
                report(f"{where} holds a URL with a password: take it from a Secret (valueFrom.secretKeyRef)")


def validate_limits(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for container in containers(args):
        limits = (container.get("resources") or {}).get("limits") or {}
        missing = [r for r in ("cpu", "memory") if not limits.get(r)]
        if missing:
            report(f"container {container.get('name')} has no {' or '.join(missing)} limit")


kubernetes_secrets_from_secret_refs = ResourceValidationPolicy(
    name="kubernetes-secrets-from-secret-refs",
    description="Kubernetes containers take credentials from Secrets (secretKeyRef), not plain env values.",
    validate=validate_secret_refs,
    enforcement_level=EnforcementLevel.MANDATORY,
)

kubernetes_resource_limits = ResourceValidationPolicy(
    name="kubernetes-resource-limits",
    description="Every Kubernetes container (init containers included) has CPU and memory limits.",
    validate=validate_limits,
    enforcement_level=EnforcementLevel.MANDATORY,
)
