"""The way in: a CLB created here (so its address is known to the program and exported), which
the cloud controller manager reuses for the nginx Service (`loadbalancer-id` with
`force-override-listeners`), with TLS at the balancer from an SLB certificate ID.

CLB rather than ALB: the CCM drives a CLB from Service annotations (listeners follow the Service's
ports), and nginx already does the HTTP routing; an ALB would need the ALB Ingress controller and
its own CRDs on top. `slb.ApplicationLoadBalancer` is the 4.x class for a CLB instance
(`slb.LoadBalancer` is deprecated)."""

from __future__ import annotations

from typing import Optional

import pulumi
from components.alicloud.sdk import alicloud

from components.alicloud.common import cloud_name, tags
from components.kubernetes.entry import Entry
from stacks.settings_alicloud import AlicloudSettings, Sizing

ANNOTATION = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-"


def reuse_annotations(load_balancer_id: pulumi.Input[str], certificate_id: Optional[str]) -> dict:
    annotations: dict = {
        f"{ANNOTATION}id": load_balancer_id,
        # Let the CCM create and update the listeners for the Service's ports.
        f"{ANNOTATION}force-override-listeners": "true",
    }
    if certificate_id:
        annotations.update({f"{ANNOTATION}protocol-port": "https:443,http:80",
                            f"{ANNOTATION}cert-id": certificate_id})
    return annotations


class ClbEntry(pulumi.ComponentResource):
    address: pulumi.Output[str]
    entry: Entry

    def __init__(self, name: str, settings: AlicloudSettings, sizing: Sizing, zones: list[str],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:alicloud:ClbEntry", name, None, opts)
        zone_a, zone_b = zones
        self.load_balancer = alicloud.slb.ApplicationLoadBalancer(
            f"{name}-clb",
            load_balancer_name=cloud_name(f"{name}-clb", 80),
            address_type="internet",
            address_ip_version="ipv4",
            load_balancer_spec=settings.load_balancer_spec,
            payment_type="PayAsYouGo",
            internet_charge_type="PayByTraffic",
            # Primary and backup zones: the balancer survives the loss of one.
            master_zone_id=zone_a,
            slave_zone_id=zone_b,
            delete_protection="on" if sizing.production else "off",
            tags=tags(),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.address = self.load_balancer.address
        self.entry = Entry(
            kind="loadBalancer",
            annotations=reuse_annotations(self.load_balancer.id, settings.certificate_id),
            tls_at_load_balancer=settings.certificate_id is not None,
        )
        self.register_outputs({"address": self.address, "id": self.load_balancer.id})
