"""EKS: the control plane, a managed node group in the private subnets, access for the deployer,
IRSA, and a Kubernetes provider built from the cluster's outputs.

- Authentication mode `API`: access entries, no aws-auth ConfigMap. The deploying identity (the IAM
  role behind an assumed-role session, via sts session context) and `aws.clusterAdminArns` get
  AmazonEKSClusterAdminPolicy; the creator gets nothing implicitly, so access is all in code.
- Kubernetes Secrets are envelope-encrypted with a customer KMS key (rotation on).
- Nodes: a launch template with an encrypted gp3 root volume and IMDSv2 with hop limit 1, so pods
  cannot borrow the node role's credentials and use their own (IRSA) identity only.
- The VPC CNI runs as a managed add-on with network policy enforcement on: the Kubernetes renderer's
  NetworkPolicies are enforced, not just stored.
- Workload identity: IRSA (an IAM OIDC provider for the cluster's issuer; roles trust one
  namespace/service account each).
- Control-plane logs (api, audit, authenticator) go to `/aws/eks/<cluster>/cluster`, declared before the
  cluster with the stack's retention: EKS would otherwise create the group itself, keeping logs for ever,
  and a later declaration would fail as "already exists". So the cluster has a fixed name (`<name>-eks`);
  one created before keeps its generated name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
from components.aws.sdk import aws
import pulumi_kubernetes as k8s

from components.aws import iam
from components.aws.monitoring import CONTROL_PLANE_LOG_TYPES, control_plane_log_group_name

ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"


@dataclass(frozen=True)
class NodeGroupSize:
    instance_types: Sequence[str]
    min_size: int
    desired_size: int
    max_size: int
    disk_gb: int = 50


def kubeconfig(name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig that gets a token from the AWS CLI (`aws eks get-token`): no credential inside."""
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "users": [{"name": name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["--region", region, "eks", "get-token", "--cluster-name", name, "--output", "json"],
            "interactiveMode": "Never",
        }}}],
    }, indent=2)


class EksCluster(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        *,
        region: str,
        partition: str,
        version: str,
        private_subnet_ids: Sequence[pulumi.Input[str]],
        public_subnet_ids: Sequence[pulumi.Input[str]],
        nodes: NodeGroupSize,
        admin_arns: Sequence[str],
        api_access_cidrs: Sequence[str],
        production: bool,
        node_policy_statements: Sequence[iam.Statement] = (),
        log_retention_days: int = 30,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__("dify:aws:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster_name = f"{name}-eks"
        self.control_plane_logs = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs", name=control_plane_log_group_name(cluster_name),
            retention_in_days=log_retention_days, opts=child)

        secrets_key = aws.kms.Key(
            f"{name}-secrets", description=f"{name}: envelope encryption of Kubernetes Secrets",
            enable_key_rotation=True, deletion_window_in_days=30, opts=child)
        cluster_role = aws.iam.Role(
            f"{name}-cluster", assume_role_policy=iam.service_trust("eks.amazonaws.com", tag_session=True),
            description=f"{name}: EKS control plane", opts=child)
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster", role=cluster_role.name, policy_arn=iam.managed_policy(partition, "AmazonEKSClusterPolicy"),
            opts=child)

        self.cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=cluster_name,
            version=version,
            role_arn=cluster_role.arn,
            vpc_config={
                # Control-plane network interfaces in the private subnets; the API is public (the deploy
                # machine runs outside the VPC) but limited to `aws.apiAccessCidrs`, and private too.
                "subnet_ids": list(private_subnet_ids),
                "endpoint_private_access": True,
                "endpoint_public_access": True,
                "public_access_cidrs": list(api_access_cidrs),
            },
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": False},
            encryption_config={"provider": {"key_arn": secrets_key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            upgrade_policy={"support_type": "STANDARD"},
            deletion_protection=production,
            # A cluster created before the name was fixed keeps its generated one rather than being replaced.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster_policy, self.control_plane_logs],
                                        ignore_changes=["name"]),
        )
        self.name: pulumi.Output[str] = self.cluster.name
        self.security_group_id: pulumi.Output[str] = self.cluster.vpc_config.cluster_security_group_id
        self.service_cidr: pulumi.Output[str] = self.cluster.kubernetes_network_config.apply(
            lambda c: c.service_ipv4_cidr)
        self.issuer_url: pulumi.Output[str] = self.cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)

        # IRSA: the cluster's OIDC issuer as an IAM identity provider (IAM fetches the issuer's keys itself;
        # no thumbprint is needed for an EKS issuer).
        self.oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc", url=self.issuer_url, client_id_lists=["sts.amazonaws.com"], opts=child)

        admins = []
        for i, arn in enumerate(dict.fromkeys(admin_arns)):
            entry = aws.eks.AccessEntry(f"{name}-admin-{i}", cluster_name=self.cluster.name, principal_arn=arn,
                                        type="STANDARD", opts=child)
            admins.append(aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{i}", cluster_name=self.cluster.name, principal_arn=entry.principal_arn,
                policy_arn=f"arn:{partition}:eks::aws:cluster-access-policy/{ADMIN_POLICY}",
                access_scope={"type": "cluster"}, opts=child))

        cni = aws.eks.Addon(
            f"{name}-vpc-cni", cluster_name=self.cluster.name, addon_name="vpc-cni",
            configuration_values=json.dumps({"enableNetworkPolicy": "true"}),
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE", opts=child)

        node_role = aws.iam.Role(
            f"{name}-node", assume_role_policy=iam.service_trust("ec2.amazonaws.com"),
            description=f"{name}: EKS worker nodes", opts=child)
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-node-{policy}", role=node_role.name,
                                         policy_arn=iam.managed_policy(partition, policy), opts=child)
            for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly")
        ]
        if node_policy_statements:
            attachments.append(aws.iam.RolePolicy(  # type: ignore[arg-type]
                f"{name}-node-extra", role=node_role.id, policy=iam.document(node_policy_statements), opts=child))

        template = aws.ec2.LaunchTemplate(
            f"{name}-nodes",
            description=f"{name}: encrypted root volume, IMDSv2 for the node only",
            update_default_version=True,
            block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {
                "volume_size": nodes.disk_gb, "volume_type": "gp3", "encrypted": "true", "delete_on_termination": "true",
            }}],
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                              "http_put_response_hop_limit": 1},
            opts=child,
        )
        self.node_group = aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=self.cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=list(private_subnet_ids),
            instance_types=list(nodes.instance_types),
            ami_type="AL2023_x86_64_STANDARD",
            capacity_type="ON_DEMAND",
            scaling_config={"min_size": nodes.min_size, "desired_size": nodes.desired_size,
                            "max_size": nodes.max_size},
            update_config={"max_unavailable": 1},
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            labels={"dify.stack/role": "general"},
            # The Cluster Autoscaler owns the desired size once the group exists.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*attachments, cni],
                                        ignore_changes=["scalingConfig.desiredSize"]),
        )

        ca = self.cluster.certificate_authority.apply(lambda c: c.data)
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(self.cluster.name, self.cluster.endpoint, ca).apply(
                lambda a: kubeconfig(a[0], a[1], a[2], region)))
        # Used for cluster add-ons; the app's provider (see `provider_for`) also waits for them.
        self.ready: list[pulumi.Resource] = [self.node_group, cni, *admins]
        self.provider = self.provider_for(f"{name}-k8s", self.ready)
        self.register_outputs({"name": self.name, "endpoint": self.cluster.endpoint,
                               "oidcIssuer": self.issuer_url})

    def provider_for(self, name: str, depends_on: Sequence[pulumi.Resource]) -> k8s.Provider:
        """A Kubernetes provider for this cluster that is used only once `depends_on` are ready."""
        return k8s.Provider(name, kubeconfig=self.kubeconfig,
                            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)))

    def workload_role(self, name: str, namespace: str, service_account: str | Sequence[str], policy: pulumi.Input[str],
                      description: str = "") -> aws.iam.Role:
        return iam.workload_role(name, self.oidc_provider.arn, self.issuer_url, namespace, service_account, policy,
                                 parent=self, description=description)
