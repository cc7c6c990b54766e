"""Amazon OpenSearch Service as Dify's vector store (`vectorStore.kind opensearch`).

A VPC domain in the private subnets behind its own security group, open on 443 to the EKS cluster's
security group only; encryption at rest and node to node, HTTPS only (TLS 1.2+). Dify signs its
requests with the api's IRSA role (OPENSEARCH_AUTH_METHOD aws_managed_iam, service `es`): the domain's
access policy allows exactly that role, so no password exists anywhere. In production the data nodes
spread over the zones (zone awareness) and three dedicated masters keep the cluster's quorum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi

from components.aws import iam
from components.aws.sdk import aws
from components.aws.security import cluster_only_security_group
from components.endpoints import VectorStoreEndpoint

PORT = 443
HTTP_ACTIONS = ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete"]


@dataclass(frozen=True)
class DomainSize:
    engine_version: str
    instance_type: str
    instance_count: int
    volume_gb: int
    dedicated_master_type: Optional[str]
    zone_awareness: bool


def domain_name(name: str) -> str:
    """3-28 characters: lower-case letters, digits and hyphens, starting with a letter."""
    return name[:28].rstrip("-")


def spread(count: int, zones: int) -> int:
    """With zone awareness the data nodes must divide evenly over the zones."""
    return -(-count // zones) * zones


def client_statements(domain_arn: str) -> list[dict]:
    """What the api's role may do: HTTP requests to this domain's indices, nothing on its configuration."""
    return [{"Effect": "Allow", "Action": HTTP_ACTIONS, "Resource": [f"{domain_arn}/*"]}]


def access_policy(domain_arn: str, role_arn: str) -> str:
    return iam.document([{"Effect": "Allow", "Principal": {"AWS": role_arn}, "Action": HTTP_ACTIONS,
                          "Resource": f"{domain_arn}/*"}])


class OpenSearchDomain(pulumi.ComponentResource):
    def __init__(self, name: str, size: DomainSize, *, region: str, production: bool,
                 vpc_id: pulumi.Input[str], subnet_ids: Sequence[pulumi.Input[str]],
                 client_security_group_id: pulumi.Input[str],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:aws:OpenSearchDomain", name, None, opts)
        self.prefix = name
        self.security_group = cluster_only_security_group(
            name, vpc_id=vpc_id, port=PORT, service="OpenSearch", client_security_group_id=client_security_group_id,
            parent=self)
        zones = min(len(subnet_ids), 3) if size.zone_awareness else 1
        cluster: dict = {
            "instance_type": size.instance_type,
            "instance_count": spread(size.instance_count, zones) if size.zone_awareness else size.instance_count,
            "zone_awareness_enabled": size.zone_awareness,
        }
        if size.zone_awareness:
            cluster["zone_awareness_config"] = {"availability_zone_count": zones}
        if size.dedicated_master_type is not None:
            cluster.update(dedicated_master_enabled=True, dedicated_master_type=size.dedicated_master_type,
                           dedicated_master_count=3)
        self.domain = aws.opensearch.Domain(
            f"{name}-domain",
            domain_name=domain_name(name),
            engine_version=size.engine_version,
            cluster_config=cluster,
            ebs_options={"ebs_enabled": True, "volume_type": "gp3", "volume_size": size.volume_gb},
            encrypt_at_rest={"enabled": True},
            node_to_node_encryption={"enabled": True},
            domain_endpoint_options={"enforce_https": True, "tls_security_policy": "Policy-Min-TLS-1-2-2019-07"},
            vpc_options={"subnet_ids": list(subnet_ids)[:zones], "security_group_ids": [self.security_group.id]},
            software_update_options={"auto_software_update_enabled": True},
            opts=pulumi.ResourceOptions(parent=self, protect=production),
        )
        self.arn = self.domain.arn
        self.host: pulumi.Output[str] = self.domain.endpoint
        self.client_policy: pulumi.Output[str] = self.arn.apply(lambda arn: iam.document(client_statements(arn)))
        self.endpoint = VectorStoreEndpoint("opensearch", host=self.host, port=PORT, tls=True, aws_region=region)
        # What an alarm names: the domain (CloudWatch namespace AWS/ES, dimensions DomainName and ClientId).
        self.register_outputs({"domainName": self.domain.domain_name, "domainArn": self.arn, "endpoint": self.host})

    def allow(self, role: aws.iam.Role) -> aws.opensearch.DomainPolicy:
        """The domain accepts signed requests from `role` alone."""
        return aws.opensearch.DomainPolicy(
            f"{self.prefix}-access", domain_name=self.domain.domain_name,
            access_policies=pulumi.Output.all(self.arn, role.arn).apply(lambda a: access_policy(a[0], a[1])),
            opts=pulumi.ResourceOptions(parent=self))
