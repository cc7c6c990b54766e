"""An ACK managed cluster (Pro in production) and its node pool across both zones.

- Network plugin: Terway by default (pods get VPC addresses from the pod vSwitches; its addon is
  listed explicitly, cluster creation fails without it) with NetworkPolicy enforcement on (the add-on's
  `NetworkPolicy` config; Terway enforces policies with Calico's Felix, in shared-ENI mode), or
  Flannel with `podCidr`, which enforces no NetworkPolicy.
- RRSA is enabled so workloads can assume RAM roles through OIDC where the software supports it.
- The kubeconfig comes from `cs.get_cluster_credential_output` (kept secret); the Kubernetes
  provider built from it waits for the node pool, so workloads are created once nodes exist.
"""

from __future__ import annotations

import json
from typing import Optional, Sequence

import pulumi
from components.alicloud.sdk import alicloud
import pulumi_kubernetes as k8s

from components.alicloud.common import cloud_name, tags
from components.alicloud.network import AlicloudNetwork
from stacks.settings_alicloud import AlicloudSettings, Sizing

BASE_ADDONS = ("csi-plugin", "csi-provisioner", "managed-coredns", "metrics-server")


def addons(settings: AlicloudSettings, network_policies: bool = True) -> list[dict]:
    if settings.network_plugin == "terway":
        network = {"name": "terway-eniip", "config": json.dumps({"NetworkPolicy": "true" if network_policies
                                                                 else "false"})}
    else:
        network = {"name": "flannel"}
    # No ingress controller: the nginx Service reuses a load balancer this program creates.
    return [network] + [{"name": n} for n in BASE_ADDONS] + [{"name": "nginx-ingress-controller", "disabled": True}]


class AckCluster(pulumi.ComponentResource):
    cluster_id: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, settings: AlicloudSettings, sizing: Sizing, network: AlicloudNetwork,
                 namespace: str, provider_depends_on: Sequence[pulumi.Resource] = (),
                 network_policies: bool = True, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:alicloud:AckCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        terway = settings.network_plugin == "terway"
        cluster = alicloud.cs.ManagedKubernetes(
            f"{name}-ack",
            name=cloud_name(f"{name}-ack", 63),
            cluster_spec=sizing.cluster_spec,
            version=settings.kubernetes_version,
            vswitch_ids=network.vswitch_ids,
            pod_vswitch_ids=network.pod_vswitch_ids if terway else None,
            pod_cidr=settings.flannel_pod_cidr,
            service_cidr=settings.service_cidr,
            # The program builds its own NAT gateway (or the existing VPC has one).
            new_nat_gateway=False,
            # Pulumi talks to the API server from where it runs: public unless told otherwise.
            slb_internet_enabled=settings.public_api_server,
            proxy_mode="ipvs",
            enable_rrsa=True,
            is_enterprise_security_group=True,
            deletion_protection=sizing.production,
            addons=addons(settings, network_policies),
            tags=tags(),
            opts=child,
        )
        pool_args: dict = dict(
            cluster_id=cluster.id,
            node_pool_name=cloud_name(f"{name}-workers", 63),
            vswitch_ids=network.vswitch_ids,
            instance_types=list(sizing.node_instance_types),
            instance_charge_type="PostPaid",
            system_disk_category="cloud_essd",
            system_disk_size=settings.node_system_disk_gb,
            image_type=settings.node_image_type,
            install_cloud_monitor=True,
            # Spread the nodes evenly over both zones.
            multi_az_policy="BALANCE",
            labels=[{"key": "dify.stack", "value": pulumi.get_stack()}],
            tags=tags(),
        )
        bounds = ((settings.autoscaling.min_size, settings.autoscaling.max_size) if settings.autoscaling
                  # Production scales by default, from its node count to twice that (the HPAs' maximums).
                  else (sizing.node_count, 2 * sizing.node_count) if sizing.production and settings.node_count is None
                  else None)
        if bounds is not None:
            pool_args["scaling_config"] = {"enable": True, "min_size": bounds[0], "max_size": bounds[1], "type": "cpu"}
        else:
            pool_args["desired_size"] = str(sizing.node_count)
        pool = alicloud.cs.NodePool(f"{name}-workers", **pool_args, opts=child)

        self.cluster_id = cluster.id
        credential = alicloud.cs.get_cluster_credential_output(
            cluster_id=cluster.id,
            # The parent's alicloud provider (the stack's region) answers the call.
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[pool]),
        )
        self.kubeconfig = pulumi.Output.secret(credential.kube_config)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            namespace=namespace,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[pool, *provider_depends_on]),
        )
        self.node_pool = pool
        self.register_outputs({"clusterId": self.cluster_id})
