"""The `edge` section translated into the Alibaba Cloud edge components (components/alicloud/edge.py) for
target alicloud."""

from __future__ import annotations

from typing import Optional

import pulumi

from components.alicloud.edge import CdnArgs, CdnDomain, WafArgs, WafDomain
from stacks.config import StackConfig


class AlicloudEdge:
    """alicloud: the CDN and/or WAF 3.0 in front of the CLB at `address`, and where the record points."""

    def __init__(self, config: StackConfig, name: str, address: pulumi.Input[str],
                 opts: pulumi.ResourceOptions) -> None:
        ali, edge, domain = config.alicloud, config.edge, config.domain
        assert ali is not None
        self.cdn: Optional[CdnDomain] = None
        self.waf: Optional[WafDomain] = None
        if edge.waf_on("alicloud", config.size):
            assert domain is not None and edge.waf_instance_id is not None
            self.waf = WafDomain(f"{name}-waf", WafArgs(
                instance_id=edge.waf_instance_id, domain=domain, certificate_id=ali.certificate_id,
                rate_limit=edge.rate_limit(config.size), allow=tuple(edge.allow_ips), deny=tuple(edge.deny_ips),
                behind_cdn=edge.cdn), address, opts=opts)
        if edge.cdn:
            assert domain is not None
            certificate = edge.cas_certificate_id(ali.certificate_id)
            assert certificate is not None
            self.cdn = CdnDomain(f"{name}-cdn", CdnArgs(
                domain=domain, certificate_id=certificate,
                # SSL Certificates Service keeps certificates in cn-hangzhou (China site) or ap-southeast-1.
                certificate_region="cn-hangzhou" if ali.region.startswith("cn-") else "ap-southeast-1",
                scope=edge.cdn_area(ali.region), origin_https=ali.certificate_id is not None),
                origin=self.waf.cname if self.waf is not None else address, origin_is_address=self.waf is None,
                opts=opts)

    def record(self, address: pulumi.Input[str]) -> tuple[pulumi.Input[str], str]:
        """The value and type of the domain's record: the first hop in front of the CLB."""
        if self.cdn is not None:
            return self.cdn.cname, "CNAME"
        if self.waf is not None:
            return self.waf.cname, "CNAME"
        return address, "A"

    def outputs(self) -> dict[str, object]:
        found: dict[str, object] = {}
        if self.cdn is not None:
            found["cdnDomain"] = self.cdn.cname
        if self.waf is not None:
            found["wafCname"] = self.waf.cname
        return found
