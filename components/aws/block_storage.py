"""Volumes for self-hosted data services on EKS: the EBS CSI driver (an EKS add-on with its own IRSA role)
and a gp3 StorageClass.

EKS ships no CSI driver for EBS, and its `gp2` class (in-tree provisioner) is migrated to the CSI
driver since Kubernetes 1.23, so without the add-on every claim stays Pending. The class binds a
volume where its pod is scheduled (`WaitForFirstConsumer`): an EBS volume lives in one zone, and a
claim bound first would pin its pod to a zone the topology spread may not allow. Volumes are
encrypted (the account's EBS key) and grow in place; in production a deleted claim keeps its volume.
"""

from __future__ import annotations

from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s
from components.aws.sdk import aws

from components.aws import iam

ADDON = "aws-ebs-csi-driver"
NAMESPACE, SERVICE_ACCOUNT = "kube-system", "ebs-csi-controller-sa"
PROVISIONER = "ebs.csi.aws.com"
STORAGE_CLASS = "dify-gp3"


class EbsVolumes(pulumi.ComponentResource):
    def __init__(self, name: str, *, cluster_name: pulumi.Input[str], kubernetes_version: str, partition: str,
                 oidc_provider_arn: pulumi.Input[str], issuer_url: pulumi.Input[str],
                 provider: k8s.Provider, production: bool, depends_on: Sequence[pulumi.Resource],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:aws:EbsVolumes", name, None, opts)
        role = aws.iam.Role(
            f"{name}-csi", description="EBS CSI driver: creates, attaches and resizes volumes",
            assume_role_policy=pulumi.Output.all(oidc_provider_arn, issuer_url).apply(
                lambda a: iam.web_identity_trust(a[0], a[1], NAMESPACE, SERVICE_ACCOUNT)),
            opts=pulumi.ResourceOptions(parent=self))
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-csi", role=role.name,
            policy_arn=iam.managed_policy(partition, "service-role/AmazonEBSCSIDriverPolicy"),
            opts=pulumi.ResourceOptions(parent=role))
        version = aws.eks.get_addon_version_output(addon_name=ADDON, kubernetes_version=kubernetes_version,
                                                   opts=pulumi.InvokeOutputOptions(parent=self))
        self.addon = aws.eks.Addon(
            f"{name}-csi", cluster_name=cluster_name, addon_name=ADDON, addon_version=version.version,
            service_account_role_arn=role.arn,
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*depends_on, attachment]))
        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-gp3", metadata={"name": STORAGE_CLASS, "labels": {"app.kubernetes.io/managed-by": "pulumi"}},
            provisioner=PROVISIONER,
            parameters={"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"},
            volume_binding_mode="WaitForFirstConsumer", allow_volume_expansion=True,
            reclaim_policy="Retain" if production else "Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.addon]))
        self.name = STORAGE_CLASS
        self.register_outputs({"storageClass": STORAGE_CLASS, "addonVersion": version.version})
