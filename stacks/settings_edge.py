"""The `edge` section: a CDN and a web application firewall in front of Dify's load balancer (targets aws
and alicloud).

Defaults: no CDN (it moves the public name and the TLS certificate, so it is a decision), and on aws a
WAF in size `production` (managed rules and a per-IP rate limit, a few dollars a month). On alicloud WAF
3.0 is a separate subscription, so it is on only when asked for, with the instance to use.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Literal, Optional

from pydantic import Field, field_validator

from stacks import rules
from stacks.rules import KeyedError
from stacks.strict import Strict

if TYPE_CHECKING:
    from stacks.config import StackConfig

# Requests per IP in 5 minutes before the rate rule blocks that IP. A Dify console page makes dozens of
# API calls and polls while a workflow runs; an office behind one NAT address is many users.
RATE_LIMITS = {"dev": 1000, "small": 2000, "production": 5000}
_ACM = re.compile(r"^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate/[0-9a-f-]+$")
_WAF_INSTANCE = re.compile(r"^waf[_-][A-Za-z0-9_-]+$")
# cn-hongkong is outside the mainland: its sites need no ICP filing.
_MAINLAND = re.compile(r"^cn-(?!hongkong)")
AWS_ONLY = ("wafLogs", "cdnCertificateArn", "originReadTimeout", "cdnPriceClass")
ALICLOUD_ONLY = ("cdnCertificateId", "cdnScope", "wafInstanceId")
WAF_RULE_KEYS = ("wafRateLimit", "allowIps", "denyIps", "wafSqlInjection", "wafLogs", "wafInstanceId")


def _ip_ranges(value: list[str]) -> list[str]:
    for given in value:
        network = rules.cidr(given, strict=True)
        if network.prefixlen == 0:
            raise ValueError(f"{given} is every address; WAF IP sets take /1 or narrower, and a rule for every "
                             "address is the default action")
    return [str(ipaddress.ip_network(v)) for v in value]


class EdgeSettings(Strict):
    cdn: bool = False
    # None: on in size production on aws, off elsewhere (see `waf_on`).
    waf: Optional[bool] = None
    waf_rate_limit: Optional[int] = Field(default=None, ge=10, le=2_000_000_000)
    waf_sql_injection: bool = False
    waf_logs: bool = False
    allow_ips: list[str] = Field(default_factory=list)
    deny_ips: list[str] = Field(default_factory=list)
    # aws: a certificate in us-east-1 for the distribution (unset: issued in aws.hostedZone).
    cdn_certificate_arn: Optional[str] = None
    # aws: seconds CloudFront waits for the next bytes of a response (60 without a quota increase).
    origin_read_timeout: int = Field(default=60, ge=1, le=180)
    cdn_price_class: Literal["PriceClass_All", "PriceClass_200", "PriceClass_100"] = "PriceClass_All"
    # alicloud: the SSL Certificates Service (CAS) ID of the certificate for the CDN domain.
    cdn_certificate_id: Optional[str] = None
    cdn_scope: Optional[Literal["domestic", "overseas", "global"]] = None
    waf_instance_id: Optional[str] = None

    _ips = field_validator("allow_ips", "deny_ips")(lambda cls, v: _ip_ranges(v))

    @field_validator("cdn_certificate_arn")
    @classmethod
    def _certificate(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        match = _ACM.match(value)
        if not match:
            raise ValueError("give an ACM certificate ARN (arn:aws:acm:us-east-1:<account>:certificate/<id>)")
        if match.group(1) != "us-east-1":
            raise ValueError(f"the certificate is in {match.group(1)}; CloudFront takes certificates from "
                             "us-east-1 only: request or import it there")
        return value

    @field_validator("cdn_certificate_id")
    @classmethod
    def _cas_id(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not value.isdigit():
            raise ValueError("give the numeric certificate ID of SSL Certificates Service, e.g. 12345678")
        return value

    @field_validator("waf_instance_id")
    @classmethod
    def _instance(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _WAF_INSTANCE.match(value):
            raise ValueError("give the WAF 3.0 instance ID, e.g. waf_v3prepaid_public_cn-xxxxxxxx")
        return value

    def waf_on(self, target: str, size: str) -> bool:
        if self.waf is not None:
            return self.waf
        return target == "aws" and size == "production"

    def rate_limit(self, size: str) -> int:
        return self.waf_rate_limit if self.waf_rate_limit is not None else RATE_LIMITS[size]

    def scope(self) -> str:
        """aws: on the distribution with the CDN (it sees the viewer's address), else on the ALB."""
        return "CLOUDFRONT" if self.cdn else "REGIONAL"

    def cdn_area(self, region: str) -> str:
        """alicloud: where the CDN serves from; mainland nodes need the domain's ICP filing."""
        return self.cdn_scope or ("domestic" if _MAINLAND.match(region) else "overseas")

    def problems(self, config: "StackConfig") -> list[KeyedError]:
        """Keys that do nothing on the stack's target or with the rest of the section, and what the edge
        needs from the other sections."""
        target, size = config.target, config.size
        given = {_camel(k) for k in self.model_fields_set}
        if target not in ("aws", "alicloud"):
            return [KeyedError(f"edge.{key}", f"the edge (CDN and WAF) is built on targets aws and alicloud, not "
                               f"{target}; remove the `edge` section (`pulumi config rm edge`)")
                    for key in sorted(given)][:1]
        found = []
        elsewhere = ALICLOUD_ONLY if target == "aws" else AWS_ONLY
        other = "alicloud" if target == "aws" else "aws"
        found += [KeyedError(f"edge.{key}", f"applies to target {other}, not {target}; remove it "
                             f"(`pulumi config rm --path edge.{key}`)") for key in elsewhere if key in given]
        if not self.waf_on(target, size):
            found += [KeyedError(f"edge.{key}", f"shapes the WAF, which is off here; remove it or set edge.waf true")
                      for key in WAF_RULE_KEYS if key in given and key not in elsewhere]
        if not self.cdn:
            found += [KeyedError(f"edge.{key}", "shapes the CDN, which is off; remove it or set edge.cdn true")
                      for key in ("cdnCertificateArn", "originReadTimeout", "cdnPriceClass", "cdnCertificateId",
                                  "cdnScope") if key in given and key not in elsewhere]
        overlap = sorted(set(self.allow_ips) & set(self.deny_ips))
        if overlap:
            found.append(KeyedError("edge.denyIps", f"{', '.join(overlap)} is in both edge.allowIps and "
                                    "edge.denyIps; keep it in one"))
        if self.cdn and config.domain is None:
            found.append(KeyedError("edge.cdn", "the CDN serves Dify under `domain`; set it (e.g. "
                                    "`pulumi config set domain dify.example.com`)"))
        elif self.cdn and target == "aws" and config.aws is not None:
            found += self._aws_cdn_problems(config)
            if config.aws.dr is not None and config.aws.dr.failover_records:
                found.append(KeyedError("aws.dr.failoverRecords", (
                    "the domain's record points at CloudFront with edge.cdn, and failover records would point it at "
                    "the ALB: keep one. With the CDN, fail over by pointing the distribution's origin at the "
                    "standby (README, \"Disaster recovery\"), or set aws.dr.failoverRecords false")))
        elif self.cdn and target == "alicloud" and config.alicloud is not None:
            if self.cas_certificate_id(config.alicloud.certificate_id) is None:
                found.append(KeyedError("edge.cdnCertificateId", "the CDN serves HTTPS with a certificate from SSL "
                                        "Certificates Service: give its numeric ID (alicloud.certificateId of the "
                                        "form <id>-<region> gives it too)"))
        if target == "alicloud" and self.waf_on(target, size):
            if self.waf_instance_id is None:
                found.append(KeyedError("edge.wafInstanceId", "WAF 3.0 is a subscription bought in the console "
                                        "(Web Application Firewall 3.0 > Purchase); give its instance ID"))
            if config.domain is None:
                found.append(KeyedError("edge.waf", "WAF 3.0 protects a domain; set `domain`"))
        return found

    def _aws_cdn_problems(self, config: "StackConfig") -> list[KeyedError]:
        aws = config.aws
        assert aws is not None
        found = []
        if aws.hosted_zone is None and aws.certificate_arn is None:
            found.append(KeyedError("edge.cdn", "CloudFront reaches the ALB over HTTPS: set aws.hostedZone (a "
                                    "certificate is issued) or aws.certificateArn"))
        reuses_alb_certificate = aws.region == "us-east-1" and aws.certificate_arn is not None
        if aws.hosted_zone is None and self.cdn_certificate_arn is None and not reuses_alb_certificate:
            found.append(KeyedError("edge.cdnCertificateArn", "the distribution needs a certificate for `domain` "
                                    "in us-east-1: set aws.hostedZone (it is issued there) or give its ARN"))
        if aws.hosted_zone is not None and self.cdn_certificate_arn is not None:
            found.append(KeyedError("edge.cdnCertificateArn", "with aws.hostedZone the distribution's certificate "
                                    "is issued and validated here; set only one of them"))
        if aws.load_balancer_internal:
            found.append(KeyedError("aws.loadBalancerInternal", "CloudFront reaches an internet-facing ALB only; "
                                    "remove aws.loadBalancerInternal or edge.cdn"))
        if aws.load_balancer_source_ranges:
            found.append(KeyedError("aws.loadBalancerSourceRanges", "with edge.cdn the ALB admits CloudFront's "
                                    "origin-facing addresses only; restrict viewers with edge.denyIps, or remove "
                                    "edge.cdn"))
        return found

    def cas_certificate_id(self, slb_certificate_id: Optional[str]) -> Optional[str]:
        """alicloud: the CDN's certificate; an SLB certificate ID `<CAS id>-<region>` names the same one."""
        if self.cdn_certificate_id is not None:
            return self.cdn_certificate_id
        match = re.match(r"^([0-9]+)-[a-z]{2}-", slb_certificate_id or "")
        return match.group(1) if match else None


def _camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)
