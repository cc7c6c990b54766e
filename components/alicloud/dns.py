"""An Alidns record for the domain: an A record to the load balancer, or a CNAME to the edge in front of it."""

from __future__ import annotations

from typing import Optional

import pulumi

from components.alicloud.sdk import alicloud


def record_name(domain: str, zone: str) -> str:
    """The host record (RR) of `domain` inside `zone`: `@` for the apex."""
    if domain == zone:
        return "@"
    if not domain.endswith(f".{zone}"):
        raise ValueError(f"domain {domain} is not inside alicloud.dnsZone {zone}")
    return domain[: -len(zone) - 1]


class AlidnsName(pulumi.ComponentResource):
    def __init__(self, name: str, domain: str, zone: str, address: pulumi.Input[str],
                 opts: Optional[pulumi.ResourceOptions] = None, kind: str = "A") -> None:
        super().__init__("dify:alicloud:AlidnsName", name, None, opts)
        self.record = alicloud.dns.AlidnsRecord(
            f"{name}-record", domain_name=zone, rr=record_name(domain, zone), type=kind, value=address,
            ttl=600, remark="Dify (Pulumi)", opts=pulumi.ResourceOptions(parent=self),
        )
        self.fqdn = domain
        self.register_outputs({"fqdn": domain})
