"""Security groups for the data services: one port, open to the EKS cluster's security group only."""

from __future__ import annotations

import pulumi

from components.aws.sdk import aws


def cluster_only_security_group(name: str, *, vpc_id: pulumi.Input[str], port: int, service: str,
                                client_security_group_id: pulumi.Input[str],
                                parent: pulumi.Resource) -> aws.ec2.SecurityGroup:
    child = pulumi.ResourceOptions(parent=parent)
    group = aws.ec2.SecurityGroup(
        f"{name}-sg", vpc_id=vpc_id, description=f"{name}: {service} from the EKS cluster only",
        revoke_rules_on_delete=True, opts=child)
    aws.vpc.SecurityGroupIngressRule(
        f"{name}-from-cluster", security_group_id=group.id, ip_protocol="tcp", from_port=port, to_port=port,
        referenced_security_group_id=client_security_group_id, description="EKS cluster (nodes and pods)",
        opts=child)
    return group
