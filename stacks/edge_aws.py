"""The `edge` section translated into the AWS edge components (components/aws/edge.py) for target aws.

In the order of a run: the web ACL and the origin restriction shape the Ingress (before Dify is deployed); the
distribution needs the ALB's address (after); the hostname record then points at the distribution.
"""

from __future__ import annotations

from typing import Optional

import pulumi
from components.aws.sdk import aws

from components.aws.edge import (CdnSettings, CloudFrontEntry, ViewerCertificate, WafRules, WebAcl, ORIGIN_FACING,
                                 cloudfront_alias_records, with_edge)
from components.aws.entry import ValidatedCertificate
from components.kubernetes.entry import Entry
from stacks import last_update
from stacks.config import StackConfig

GLOBAL_REGION = "us-east-1"
CDN_DOMAIN, WEB_ACL_ARN = "cdnDomain", "webAclArn"
# The controller's value for "no web ACL on this ALB".
NO_WEB_ACL = "none"
# CloudFront's default quota for the origin response timeout; more needs a Service Quotas increase.
DEFAULT_READ_TIMEOUT_QUOTA = 60


class AwsEdge:
    def __init__(self, config: StackConfig, name: str, provider: aws.Provider, provider_tags: dict) -> None:
        settings, edge = config.aws, config.edge
        assert settings is not None
        self.config, self.name, self.edge = config, name, edge
        self.cdn: Optional[CloudFrontEntry] = None
        self.web_acl: Optional[WebAcl] = None
        self._regional = pulumi.ResourceOptions(providers=[provider])
        # CloudFront's certificate and a CLOUDFRONT-scope web ACL must be made in us-east-1.
        self.global_provider = provider
        if edge.cdn and settings.region != GLOBAL_REGION:
            self.global_provider = aws.Provider(f"{name}-aws-{GLOBAL_REGION}", region=GLOBAL_REGION,
                                                default_tags=provider_tags)
        self._global = pulumi.ResourceOptions(providers=[self.global_provider])
        if edge.waf_on("aws", config.size):
            rules = WafRules(
                scope=edge.scope(), rate_limit=edge.rate_limit(config.size), allow=tuple(edge.allow_ips),
                deny=tuple(edge.deny_ips), sql_injection=edge.waf_sql_injection,
                log_retention_days=config.monitoring.log_retention_days if edge.waf_logs else None)
            self.web_acl = WebAcl(f"{name}-waf", rules, opts=self._global if edge.cdn else self._regional)
        self.prefix_list_id: Optional[pulumi.Output[str]] = None
        # The ALB admits only CloudFront once the name already points at the distribution (an update after
        # the one that made it): locking it in the same update would cut viewers off while the distribution
        # deploys and the record moves.
        # Read only where it decides something: with the CDN, or where no regional ACL is declared.
        needs_previous = edge.cdn or self.web_acl is None
        previous = last_update.outputs() if needs_previous else {}
        self.origin_locked = edge.cdn and CDN_DOMAIN in previous
        # The controller keeps an association whose annotation is gone; `none` removes it, so the regional
        # ACL a previous update attached can be deleted (WAF refuses to delete an associated ACL).
        self.detach_regional = ":regional/webacl/" in str(previous.get(WEB_ACL_ARN) or "")
        if edge.cdn and not self.origin_locked:
            pulumi.log.warn("edge.cdn: the ALB stays open to every address in this update, while the distribution "
                            "deploys and the name moves to it; run `pulumi up` again to admit only CloudFront")
        if self.origin_locked:
            found = aws.ec2.get_managed_prefix_list_output(name=ORIGIN_FACING,
                                                           opts=pulumi.InvokeOutputOptions(provider=provider))
            self.prefix_list_id = found.id
        if edge.cdn:
            if edge.origin_read_timeout > DEFAULT_READ_TIMEOUT_QUOTA:
                pulumi.log.warn(f"edge.originReadTimeout {edge.origin_read_timeout}: CloudFront allows more than "
                                f"{DEFAULT_READ_TIMEOUT_QUOTA} s only after a quota increase (Service Quotas > "
                                "CloudFront > Response timeout per origin); request it before `pulumi up`")

    def shape(self, entry: Entry) -> Entry:
        regional_acl = self.web_acl.arn if self.web_acl is not None and not self.edge.cdn else None
        if regional_acl is None and self.detach_regional:
            regional_acl = NO_WEB_ACL
        return with_edge(entry, prefix_list_id=self.prefix_list_id, regional_web_acl_arn=regional_acl)

    def front(self, origin_hostname: pulumi.Input[str], alb_certificate: Optional[ValidatedCertificate]) -> None:
        """The distribution, once the ALB has an address."""
        if not self.edge.cdn:
            return
        settings, domain = self.config.aws, self.config.domain
        assert settings is not None and domain is not None
        certificate: pulumi.Input[str]
        if self.edge.cdn_certificate_arn is not None:
            certificate = self.edge.cdn_certificate_arn
        elif settings.region == GLOBAL_REGION:
            # The ALB's own certificate (issued here or given) already lives in us-east-1.
            certificate = alb_certificate.arn if alb_certificate is not None else settings.certificate_arn  # type: ignore[assignment]
        else:
            assert alb_certificate is not None
            certificate = ViewerCertificate(f"{self.name}-cdn-tls", domain, alb_certificate.validation_fqdn,
                                            opts=self._global).arn
        self.cdn = CloudFrontEntry(
            f"{self.name}-cdn", CdnSettings(domain=domain, certificate_arn=certificate,
                                            read_timeout_seconds=self.edge.origin_read_timeout,
                                            price_class=self.edge.cdn_price_class,
                                            web_acl_arn=self.web_acl.arn if self.web_acl is not None else None),
            origin_hostname, opts=self._global)

    def alias_records(self, name: str, zone_id: pulumi.Input[str], opts: pulumi.ResourceOptions) -> list:
        assert self.cdn is not None and self.config.domain is not None
        return cloudfront_alias_records(name, self.config.domain, zone_id, self.cdn.distribution, opts)

    def outputs(self) -> dict[str, object]:
        found: dict[str, object] = {}
        if self.cdn is not None:
            found.update({CDN_DOMAIN: self.cdn.domain_name, "cdnDistributionId": self.cdn.distribution.id,
                          "cdnOriginLocked": self.origin_locked})
        if self.web_acl is not None:
            found[WEB_ACL_ARN] = self.web_acl.arn
        return found

