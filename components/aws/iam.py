"""IAM policy documents as plain data (so tests can read them), and the roles built from them."""

from __future__ import annotations

import json
from typing import Any, Optional, Sequence

import pulumi
from components.aws.sdk import aws

Statement = dict[str, Any]


def document(statements: Sequence[Statement]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def service_trust(*services: str, tag_session: bool = False) -> str:
    actions = ["sts:AssumeRole"] + (["sts:TagSession"] if tag_session else [])
    return document([{"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": actions}])


def web_identity_trust(provider_arn: str, issuer_url: str, namespace: str, service_account: str | Sequence[str]) -> str:
    """IRSA: only the tokens of `namespace/<service_account>` (one or several), issued for STS, may
    assume the role."""
    issuer = issuer_url.removeprefix("https://")
    accounts = [service_account] if isinstance(service_account, str) else list(service_account)
    subjects = [f"system:serviceaccount:{namespace}:{a}" for a in accounts]
    return document([{
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            f"{issuer}:sub": subjects[0] if len(subjects) == 1 else subjects,
            f"{issuer}:aud": "sts.amazonaws.com",
        }},
    }])


def managed_policy(partition: str, name: str) -> str:
    return f"arn:{partition}:iam::aws:policy/{name}"


def workload_role(
    name: str,
    oidc_provider_arn: pulumi.Input[str],
    issuer_url: pulumi.Input[str],
    namespace: str,
    service_account: str | Sequence[str],
    policy: pulumi.Input[str],
    parent: Optional[pulumi.Resource] = None,
    description: str = "",
) -> aws.iam.Role:
    """An IAM role for one Kubernetes service account (IRSA), with one inline policy."""
    role = aws.iam.Role(
        name,
        description=description or f"IRSA role for {namespace}/{service_account}",
        assume_role_policy=pulumi.Output.all(oidc_provider_arn, issuer_url).apply(
            lambda a: web_identity_trust(a[0], a[1], namespace, service_account)),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=policy, opts=pulumi.ResourceOptions(parent=role))
    return role
