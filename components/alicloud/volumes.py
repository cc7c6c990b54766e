"""Volumes for self-hosted data services on ACK: an ESSD StorageClass that binds where the pod runs.

ACK's own `alicloud-disk-essd` class binds at once (`Immediate`): the disk is made in some zone before
the pod is scheduled, and an ESSD attaches only to nodes of its zone, so a pod the topology spread
sends to the other zone never starts. This class waits for the pod (`WaitForFirstConsumer`), encrypts
the disk (the account's default KMS key), grows it in place, and in production keeps it when its
claim is deleted. An ESSD (at its default performance level, PL1) is at least 20 GiB: smaller claims ask for that.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

PROVISIONER = "diskplugin.csi.alibabacloud.com"
STORAGE_CLASS = "dify-essd"
MIN_VOLUME = "20Gi"


class EssdVolumes(pulumi.ComponentResource):
    def __init__(self, name: str, *, provider: k8s.Provider, production: bool,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:alicloud:EssdVolumes", name, None, opts)
        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-essd", metadata={"name": STORAGE_CLASS, "labels": {"app.kubernetes.io/managed-by": "pulumi"}},
            provisioner=PROVISIONER,
            parameters={"type": "cloud_essd", "csi.storage.k8s.io/fstype": "ext4", "encrypted": "true"},
            volume_binding_mode="WaitForFirstConsumer", allow_volume_expansion=True,
            reclaim_policy="Retain" if production else "Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=provider))
        self.name = STORAGE_CLASS
        self.min_volume = MIN_VOLUME
        self.register_outputs({"storageClass": STORAGE_CLASS})
