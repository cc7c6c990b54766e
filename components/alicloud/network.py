"""The VPC: one node vSwitch per zone (two zones), one pod vSwitch per zone for Terway, and an
enhanced NAT gateway with an EIP and SNAT entries so nodes (and Terway pods) can pull images and
reach model providers and PyPI. Or an existing VPC and its vSwitches, by ID."""

from __future__ import annotations

from typing import Optional, Sequence

import pulumi
from components.alicloud.sdk import alicloud

from components.alicloud.common import cloud_name, tags
from stacks.settings_alicloud import AlicloudSettings


class AlicloudNetwork(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    vswitch_ids: list[pulumi.Output[str]]
    pod_vswitch_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, settings: AlicloudSettings, zones: Sequence[str],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:alicloud:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.zones = list(zones)
        # Whitelists name the whole VPC: nodes, and with Terway the pods, take addresses from it.
        self.vpc_cidr = settings.vpc_cidr
        terway = settings.network_plugin == "terway"

        if settings.creates_network:
            vpc = alicloud.vpc.Network(
                f"{name}-vpc", vpc_name=cloud_name(f"{name}-vpc"), cidr_block=settings.vpc_cidr,
                description="Dify (Pulumi)", tags=tags(), opts=child,
            )
            self.vpc_id = vpc.id
            self.vswitch_ids = [
                alicloud.vpc.Switch(
                    f"{name}-nodes-{i}", vswitch_name=cloud_name(f"{name}-nodes-{zone}"), vpc_id=vpc.id,
                    zone_id=zone, cidr_block=cidr, tags=tags({"role": "nodes"}), opts=child,
                ).id
                for i, (zone, cidr) in enumerate(zip(self.zones, settings.node_vswitch_cidrs()))
            ]
            self.pod_vswitch_ids = [
                alicloud.vpc.Switch(
                    f"{name}-pods-{i}", vswitch_name=cloud_name(f"{name}-pods-{zone}"), vpc_id=vpc.id,
                    zone_id=zone, cidr_block=cidr, tags=tags({"role": "pods"}), opts=child,
                ).id
                for i, (zone, cidr) in enumerate(zip(self.zones, settings.pod_vswitch_cidrs()))
            ] if terway else []
        else:
            assert settings.vpc_id is not None
            self.vpc_id = pulumi.Output.from_input(settings.vpc_id)
            self.vswitch_ids = [pulumi.Output.from_input(v) for v in settings.vswitch_ids]
            self.pod_vswitch_ids = ([pulumi.Output.from_input(v) for v in
                                     (settings.pod_vswitch_ids or settings.vswitch_ids)] if terway else [])

        self.nat_gateway_id: Optional[pulumi.Output[str]] = None
        self.egress_ip: Optional[pulumi.Output[str]] = None
        if settings.wants_nat_gateway:
            self._nat(name, child)
        self.register_outputs({"vpcId": self.vpc_id, "vswitchIds": self.vswitch_ids})

    def _nat(self, name: str, child: pulumi.ResourceOptions) -> None:
        nat = alicloud.vpc.NatGateway(
            f"{name}-nat", nat_gateway_name=cloud_name(f"{name}-nat"), vpc_id=self.vpc_id,
            vswitch_id=self.vswitch_ids[0], nat_type="Enhanced", payment_type="PayAsYouGo",
            internet_charge_type="PayByLcu", network_type="internet", tags=tags(), opts=child,
        )
        eip = alicloud.ecs.EipAddress(
            f"{name}-nat-eip", address_name=cloud_name(f"{name}-nat-eip"), bandwidth="100",
            internet_charge_type="PayByTraffic", payment_type="PayAsYouGo", tags=tags(), opts=child,
        )
        association = alicloud.ecs.EipAssociation(
            f"{name}-nat-eip", allocation_id=eip.id, instance_id=nat.id, instance_type="Nat", opts=child,
        )
        # One SNAT entry per vSwitch whose hosts need the internet: nodes, and Terway's pods.
        for i, vswitch in enumerate(self.vswitch_ids + self.pod_vswitch_ids):
            alicloud.vpc.SnatEntry(
                f"{name}-snat-{i}", snat_table_id=nat.snat_table_ids, source_vswitch_id=vswitch,
                snat_ip=eip.ip_address,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[association]),
            )
        self.nat_gateway_id = nat.id
        self.egress_ip = eip.ip_address
