"""What makes the EKS cluster scale: metrics-server (so the HorizontalPodAutoscalers see CPU) and the
Cluster Autoscaler (so pods the HPAs add get nodes, up to the node group's maximum).

Cluster Autoscaler rather than Karpenter or EKS Auto Mode: the cluster already runs one managed node
group whose Auto Scaling group EKS tags for discovery (`k8s.io/cluster-autoscaler/<cluster>: owned`),
so the autoscaler needs only to read groups and to set the desired size or remove an instance of the
groups with that tag. Karpenter would launch instances itself (ec2:RunInstances / CreateFleet, an
instance profile, an interruption queue), and Auto Mode hands the nodes to AWS; both are larger changes
of who owns the nodes than a Dify deployment needs.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
from components.aws.sdk import aws

from components.aws import iam

CHART, CHART_VERSION, CHART_REPO = "cluster-autoscaler", "9.54.0", "https://kubernetes.github.io/autoscaler"
NAMESPACE, SERVICE_ACCOUNT = "kube-system", "cluster-autoscaler"


def autoscaler_image_tag(kubernetes_version: str) -> str:
    """The Cluster Autoscaler minor must match the cluster's."""
    return f"v{kubernetes_version}.0"


def policy_statements(cluster_name: str) -> list[iam.Statement]:
    return [
        {"Effect": "Allow", "Resource": "*", "Action": [
            "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
            "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
            "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
            "eks:DescribeNodegroup"]},
        {"Effect": "Allow", "Resource": "*",
         "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
         "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}}},
    ]


class ClusterScaling(pulumi.ComponentResource):
    def __init__(self, name: str, cluster, *, region: str, kubernetes_version: str,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:aws:ClusterScaling", name, None, opts)
        # EKS's add-on (the default version for the cluster's Kubernetes version), on the nodes.
        self.metrics_server = aws.eks.Addon(
            f"{name}-metrics-server", cluster_name=cluster.cluster.name, addon_name="metrics-server",
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster.node_group]))
        role = cluster.workload_role(
            f"{name}-autoscaler", NAMESPACE, SERVICE_ACCOUNT,
            cluster.cluster.name.apply(lambda n: iam.document(policy_statements(n))),
            description="Cluster Autoscaler: the cluster's own node groups only")
        self.autoscaler = k8s.helm.v3.Release(
            f"{name}-autoscaler",
            name=CHART,
            chart=CHART,
            version=CHART_VERSION,
            repository_opts={"repo": CHART_REPO},
            namespace=NAMESPACE,
            values={
                "cloudProvider": "aws",
                "awsRegion": region,
                "autoDiscovery": {"clusterName": cluster.cluster.name},
                "image": {"tag": autoscaler_image_tag(kubernetes_version)},
                "rbac": {"serviceAccount": {"create": True, "name": SERVICE_ACCOUNT,
                                            "annotations": {"eks.amazonaws.com/role-arn": role.arn}}},
                "extraArgs": {"balance-similar-node-groups": True, "expander": "least-waste",
                              "scale-down-unneeded-time": "10m"},
            },
            opts=pulumi.ResourceOptions(parent=self, provider=cluster.provider),
        )
        self.register_outputs({"autoscalerChartVersion": CHART_VERSION})
