"""The edge in front of the ALB on AWS: a CloudFront distribution and an AWS WAF web ACL.

- CloudFront: one origin, the ALB, over HTTPS only. Dify's build assets (`/_next/static/*`, hashed
  names) and public files are cached; every other path (the console and app APIs, `/v1`, `/files`,
  `/e/`, the pages) is not, takes every method and reaches the origin with all viewer headers, cookies
  and query strings plus CloudFront's own headers (CloudFront-Viewer-Address). The Host header is kept on
  every behaviour: the ALB's certificate and its Ingress rule are for the domain, and CloudFront checks
  the origin's certificate against the Host it sends, so stripping it (AllViewerExceptHostHeader) would
  fail every request with a 502.
- The ALB admits only CloudFront (from the update after the one that made the distribution, see
  stacks/edge_aws.py): its security group allows AWS's managed prefix list
  `com.amazonaws.global.cloudfront.origin-facing`, on 443 only (the list weighs 55 rules of the group's
  default quota of 60, so a second port would not fit).
- WAF: deny and allow IP sets, a per-IP rate rule, and AWS's managed rule groups (IP reputation, known
  bad inputs, the core rule set, optionally SQL injection). The core set's body-size rule blocks any
  body over 8 KB and its body XSS rule matches the code and HTML people paste into prompts and workflow
  nodes: both count instead of block. A CLOUDFRONT-scope ACL (and its log group) live in us-east-1, so
  the caller hands this component that region's provider.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import Optional, Sequence

import pulumi
from components.aws.sdk import aws

from components.kubernetes.entry import Entry

_ALB = "alb.ingress.kubernetes.io/"
ORIGIN_FACING = "com.amazonaws.global.cloudfront.origin-facing"
# AWS managed policies (their IDs are the same in every account).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
# Managed-AllViewerAndCloudFrontHeaders-2022-06: every viewer header (Host among them), cookie and query
# string, and the CloudFront-* headers (CloudFront-Viewer-Address: the client's address and port).
ALL_VIEWER_AND_CLOUDFRONT_HEADERS = "33f36d7e-f396-46d9-90e0-52428a34d9dc"
# Dify web's build output and files from its public directory.
STATIC_PATHS = ("/_next/static/*", "/logo/*", "/vs/*", "/favicon.ico", "/embed.min.js", "/embed.js")
ORIGIN_ID = "alb"
# CloudFront keeps origin connections open up to 60 s without a quota increase; the ALB's idle timeout
# (3600 s) is longer, so the ALB never closes a connection CloudFront is about to reuse.
KEEPALIVE_SECONDS = 60
MANAGED_GROUPS = ("AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesKnownBadInputsRuleSet",
                  "AWSManagedRulesCommonRuleSet")
SQL_INJECTION_GROUP = "AWSManagedRulesSQLiRuleSet"
# Rules of the core rule set that count instead of block (see the module's docstring).
COUNTED_COMMON_RULES = ("SizeRestrictions_BODY", "CrossSiteScripting_BODY")
RATE_WINDOW_SECONDS = 300
# Headers WAF logs would otherwise hold in clear: session cookies and API keys.
REDACTED_HEADERS = ("authorization", "cookie")


def cdn_annotations(annotations: dict[str, pulumi.Input[str]], prefix_list_id: pulumi.Input[str]
                    ) -> dict[str, pulumi.Input[str]]:
    """The ALB's annotations behind CloudFront: HTTPS only, and only from CloudFront's origin-facing
    addresses (the controller puts no 0.0.0.0/0 rule once a prefix list is given)."""
    shaped = {k: v for k, v in annotations.items()
              if k not in (f"{_ALB}ssl-redirect", f"{_ALB}inbound-cidrs")}
    shaped[f"{_ALB}listen-ports"] = '[{"HTTPS": 443}]'
    shaped[f"{_ALB}security-group-prefix-lists"] = prefix_list_id
    return shaped


def with_edge(entry: Entry, *, prefix_list_id: Optional[pulumi.Input[str]],
              regional_web_acl_arn: Optional[pulumi.Input[str]]) -> Entry:
    """The Ingress's annotations with the CDN's origin restriction and/or the regional web ACL, which the
    controller associates with the ALB it makes (and again whenever it replaces it)."""
    annotations = dict(entry.annotations)
    if prefix_list_id is not None:
        annotations = cdn_annotations(annotations, prefix_list_id)
    if regional_web_acl_arn is not None:
        annotations[f"{_ALB}wafv2-acl-arn"] = regional_web_acl_arn
    return replace(entry, annotations=annotations)


@dataclass(frozen=True)
class WafRules:
    scope: str  # REGIONAL or CLOUDFRONT
    rate_limit: int
    allow: Sequence[str] = ()
    deny: Sequence[str] = ()
    sql_injection: bool = False
    # Days WAF logs are kept (a CloudWatch log group); None: no logging.
    log_retention_days: Optional[int] = None


def _visibility(metric: str) -> dict:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}


def _by_version(cidrs: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for cidr in cidrs:
        version = "IPV4" if ipaddress.ip_network(cidr).version == 4 else "IPV6"
        found.setdefault(version, []).append(cidr)
    return found


class WebAcl(pulumi.ComponentResource):
    """A WAFv2 web ACL whose default action is allow, with the rules of `WafRules`."""

    arn: pulumi.Output[str]

    def __init__(self, name: str, rules: WafRules, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:aws:WebAcl", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.rules = rules
        self.ip_sets: dict[str, aws.wafv2.IpSet] = {}
        statements = []
        for verdict, cidrs in (("deny", rules.deny), ("allow", rules.allow)):
            sets = [self._ip_set(f"{name}-{verdict}-{version.lower()}", rules.scope, version, listed, child)
                    for version, listed in sorted(_by_version(cidrs).items())]
            if sets:
                refs = [{"ip_set_reference_statement": {"arn": s.arn}} for s in sets]
                statements.append((verdict, refs[0] if len(refs) == 1 else {"or_statement": {"statements": refs}}))
        acl_rules: list[dict] = []
        for verdict, statement in statements:
            acl_rules.append({"name": f"{verdict}-ips", "statement": statement,
                              "action": {"block" if verdict == "deny" else "allow": {}},
                              "visibility_config": _visibility(f"{verdict}-ips")})
        acl_rules.append({
            "name": "rate-per-ip", "action": {"block": {}}, "visibility_config": _visibility("rate-per-ip"),
            "statement": {"rate_based_statement": {"limit": rules.rate_limit, "aggregate_key_type": "IP",
                                                   "evaluation_window_sec": RATE_WINDOW_SECONDS}}})
        groups = [*MANAGED_GROUPS, *((SQL_INJECTION_GROUP,) if rules.sql_injection else ())]
        for group in groups:
            statement: dict = {"name": group, "vendor_name": "AWS"}
            if group == "AWSManagedRulesCommonRuleSet":
                statement["rule_action_overrides"] = [{"name": rule, "action_to_use": {"count": {}}}
                                                      for rule in COUNTED_COMMON_RULES]
            acl_rules.append({"name": group, "override_action": {"none": {}}, "visibility_config": _visibility(group),
                              "statement": {"managed_rule_group_statement": statement}})
        for priority, rule in enumerate(acl_rules):
            rule["priority"] = priority
        self.acl = aws.wafv2.WebAcl(
            f"{name}-acl", scope=rules.scope, description="Dify: managed rules, per-IP rate limit, IP lists",
            default_action={"allow": {}}, rules=acl_rules, visibility_config=_visibility(name), opts=child)
        self.arn = self.acl.arn
        self.log_group: Optional[aws.cloudwatch.LogGroup] = None
        if rules.log_retention_days is not None:
            # WAF writes only to log groups whose names start with aws-waf-logs-.
            self.log_group = aws.cloudwatch.LogGroup(f"{name}-logs", name=f"aws-waf-logs-{name}",
                                                     retention_in_days=rules.log_retention_days, opts=child)
            aws.wafv2.WebAclLoggingConfiguration(
                f"{name}-logs", resource_arn=self.acl.arn, log_destination_configs=[self.log_group.arn],
                redacted_fields=[{"single_header": {"name": h}} for h in REDACTED_HEADERS], opts=child)
        self.register_outputs({"arn": self.arn})

    def _ip_set(self, name: str, scope: str, version: str, cidrs: list[str],
                opts: pulumi.ResourceOptions) -> aws.wafv2.IpSet:
        found = aws.wafv2.IpSet(name, scope=scope, ip_address_version=version, addresses=cidrs,
                                description=f"Dify: {name}", opts=opts)
        self.ip_sets[name] = found
        return found


class ViewerCertificate(pulumi.ComponentResource):
    """The distribution's certificate in us-east-1, validated by the record that already validates the
    regional one: ACM gives one domain the same validation CNAME in every region of an account, so a
    second record would be a second owner of the same name."""

    def __init__(self, name: str, domain: str, validation_fqdn: pulumi.Input[str],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:aws:ViewerCertificate", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        certificate = aws.acm.Certificate(f"{name}-certificate", domain_name=domain, validation_method="DNS",
                                          key_algorithm="EC_prime256v1", opts=child)
        validation = aws.acm.CertificateValidation(
            f"{name}-validation", certificate_arn=certificate.arn, validation_record_fqdns=[validation_fqdn],
            opts=child)
        self.arn: pulumi.Output[str] = validation.certificate_arn
        self.register_outputs({"arn": self.arn})


@dataclass(frozen=True)
class CdnSettings:
    domain: str
    certificate_arn: pulumi.Input[str]
    read_timeout_seconds: int
    price_class: str
    web_acl_arn: Optional[pulumi.Input[str]] = None


def _static_behaviour(path: str, policy_id: pulumi.Input[str]) -> dict:
    return {"path_pattern": path, "target_origin_id": ORIGIN_ID, "viewer_protocol_policy": "redirect-to-https",
            "allowed_methods": ["GET", "HEAD", "OPTIONS"], "cached_methods": ["GET", "HEAD"],
            "cache_policy_id": CACHING_OPTIMIZED, "origin_request_policy_id": policy_id, "compress": True}


class CloudFrontEntry(pulumi.ComponentResource):
    """A distribution for `domain` in front of the ALB at `origin_hostname`."""

    def __init__(self, name: str, settings: CdnSettings, origin_hostname: pulumi.Input[str],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:aws:CloudFrontEntry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Cached paths reach the origin with the Host header only: the cache key stays the URL.
        static = aws.cloudfront.OriginRequestPolicy(
            f"{name}-static", comment="Dify static files: the Host header (the ALB's certificate and rule)",
            headers_config={"header_behavior": "whitelist", "headers": {"items": ["Host"]}},
            cookies_config={"cookie_behavior": "none"}, query_strings_config={"query_string_behavior": "none"},
            opts=child)
        self.distribution = aws.cloudfront.Distribution(
            f"{name}-distribution", enabled=True, comment=f"Dify {settings.domain}", aliases=[settings.domain],
            is_ipv6_enabled=True, http_version="http2and3", price_class=settings.price_class,
            origins=[{
                "origin_id": ORIGIN_ID, "domain_name": origin_hostname,
                "custom_origin_config": {
                    "http_port": 80, "https_port": 443, "origin_protocol_policy": "https-only",
                    "origin_ssl_protocols": ["TLSv1.2"], "origin_read_timeout": settings.read_timeout_seconds,
                    "origin_keepalive_timeout": KEEPALIVE_SECONDS,
                },
            }],
            default_cache_behavior={
                "target_origin_id": ORIGIN_ID, "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
                "cached_methods": ["GET", "HEAD"], "cache_policy_id": CACHING_DISABLED,
                "origin_request_policy_id": ALL_VIEWER_AND_CLOUDFRONT_HEADERS,
                # Compressing needs a caching policy; a streamed answer passes as the origin sends it.
                "compress": False,
            },
            ordered_cache_behaviors=[_static_behaviour(path, static.id) for path in STATIC_PATHS],
            viewer_certificate={"acm_certificate_arn": settings.certificate_arn, "ssl_support_method": "sni-only",
                                "minimum_protocol_version": "TLSv1.2_2021"},
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            web_acl_id=settings.web_acl_arn, opts=child)
        self.domain_name = self.distribution.domain_name
        self.register_outputs({"domainName": self.domain_name, "id": self.distribution.id})


def cloudfront_alias_records(name: str, domain: str, zone_id: pulumi.Input[str],
                             distribution: aws.cloudfront.Distribution,
                             opts: pulumi.ResourceOptions) -> list[aws.route53.Record]:
    """A and AAAA aliases to the distribution. CloudFront alias targets take no health evaluation."""
    return [aws.route53.Record(
        record, zone_id=zone_id, name=domain, type=kind,
        aliases=[{"name": distribution.domain_name, "zone_id": distribution.hosted_zone_id,
                  "evaluate_target_health": False}],
        allow_overwrite=False, opts=opts) for record, kind in ((name, "A"), (f"{name}-ipv6", "AAAA"))]
