"""The network: a new VPC across 2-3 zones (public + private subnets, NAT) or an existing VPC by ID.

New VPC layout (from `vpcCidr`, e.g. 10.0.0.0/16): private subnets /19 per zone (pods take VPC
addresses with the VPC CNI, so they are large), public subnets /22 per zone carved from the fourth
/19. Public subnets route to an internet gateway and hold the NAT gateways and the load balancer;
private subnets hold nodes, RDS and ElastiCache and leave through NAT: one gateway per zone
(a zone outage does not cut the others off) or one shared gateway (cheaper, for dev/small).
Subnets carry the tags the AWS Load Balancer Controller uses to find them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
from components.aws.sdk import aws


@dataclass(frozen=True)
class NetworkEndpoint:
    vpc_id: pulumi.Input[str]
    cidr: pulumi.Input[str]
    private_subnet_ids: list[pulumi.Input[str]]
    public_subnet_ids: list[pulumi.Input[str]]


def subnet_plan(vpc_cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """(private CIDRs, public CIDRs), one of each per zone."""
    network = ipaddress.ip_network(vpc_cidr)
    quarters = list(network.subnets(new_prefix=network.prefixlen + 3))
    private = [str(c) for c in quarters[:zones]]
    public = [str(c) for c in list(quarters[3].subnets(new_prefix=network.prefixlen + 6))[:zones]]
    return private, public


class Network(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        *,
        zones: Sequence[str] = (),
        vpc_cidr: str = "10.0.0.0/16",
        nat_per_zone: bool = True,
        vpc_id: Optional[str] = None,
        private_subnet_ids: Sequence[str] = (),
        public_subnet_ids: Sequence[str] = (),
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__("dify:aws:Network", name, None, opts)
        if vpc_id is not None:
            cidr = aws.ec2.get_vpc_output(id=vpc_id, opts=pulumi.InvokeOutputOptions(parent=self)).cidr_block
            self.endpoint = NetworkEndpoint(vpc_id, cidr, list(private_subnet_ids), list(public_subnet_ids))
            self.nat_gateways: list[aws.ec2.NatGateway] = []
            self.register_outputs({"vpcId": vpc_id})
            return

        child = pulumi.ResourceOptions(parent=self)
        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=vpc_cidr, enable_dns_hostnames=True, enable_dns_support=True,
                          tags={"Name": name}, opts=child)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags={"Name": name}, opts=child)
        private_cidrs, public_cidrs = subnet_plan(vpc_cidr, len(zones))

        public_table = aws.ec2.RouteTable(
            f"{name}-public", vpc_id=vpc.id, routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags={"Name": f"{name}-public"}, opts=child)
        public: list[aws.ec2.Subnet] = []
        private: list[aws.ec2.Subnet] = []
        for i, zone in enumerate(zones):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{i}", vpc_id=vpc.id, availability_zone=zone, cidr_block=public_cidrs[i],
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{zone}", "kubernetes.io/role/elb": "1"}, opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-public-{i}", subnet_id=subnet.id, route_table_id=public_table.id,
                                          opts=child)
            public.append(subnet)

        self.nat_gateways = []
        for i in range(len(zones) if nat_per_zone else 1):
            eip = aws.ec2.Eip(f"{name}-nat-{i}", domain="vpc", tags={"Name": f"{name}-nat-{zones[i]}"}, opts=child)
            self.nat_gateways.append(aws.ec2.NatGateway(
                f"{name}-nat-{i}", allocation_id=eip.id, subnet_id=public[i].id, connectivity_type="public",
                tags={"Name": f"{name}-nat-{zones[i]}"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw])))

        for i, zone in enumerate(zones):
            nat = self.nat_gateways[i if nat_per_zone else 0]
            table = aws.ec2.RouteTable(
                f"{name}-private-{i}", vpc_id=vpc.id, routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                tags={"Name": f"{name}-private-{zone}"}, opts=child)
            subnet = aws.ec2.Subnet(
                f"{name}-private-{i}", vpc_id=vpc.id, availability_zone=zone, cidr_block=private_cidrs[i],
                tags={"Name": f"{name}-private-{zone}", "kubernetes.io/role/internal-elb": "1"}, opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-private-{i}", subnet_id=subnet.id, route_table_id=table.id,
                                          opts=child)
            private.append(subnet)

        self.endpoint = NetworkEndpoint(vpc.id, vpc.cidr_block, [s.id for s in private], [s.id for s in public])
        self.register_outputs({"vpcId": vpc.id, "privateSubnetIds": self.endpoint.private_subnet_ids,
                               "publicSubnetIds": self.endpoint.public_subnet_ids})
