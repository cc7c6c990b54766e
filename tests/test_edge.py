"""The edge (`edge`): CloudFront and AWS WAF on aws, Alibaba CDN and WAF 3.0 on alicloud, under mocks.

Runs: the prod and alicloud stack files as they are (shared with other modules), prod with the CDN in
eu-central-1 (the us-east-1 provider; an update after the one that made the distribution), prod turning
the CDN on, prod with the WAF off (the state before turning it on), and alicloud with CDN + WAF and with
WAF only."""

from __future__ import annotations

import json

import pytest

from components.aws import edge as aws_edge
from components.alicloud import edge as ali_edge
from stacks.settings_edge import RATE_LIMITS
from tests.captured import captured
from tests.change_plan import cached_run, plan, stateful_losses
from tools.mocks import LB_HOSTNAME, PROJECT, Run, is_secret, run_program, stack_config
from tools.mocks import aws as mock_aws

ALB = "alb.ingress.kubernetes.io/"
ALLOW = ["203.0.113.0/24", "2001:db8::/32"]
DENY = ["198.51.100.7/32"]
# prod (hostedZone example.com, production) in eu-central-1, with the CDN, WAF logs, IP lists and SQLi rules.
CDN_EU = {"aws": {"region": "eu-central-1", "availabilityZones": 3, "hostedZone": "example.com"},
          "edge": {"cdn": True, "wafLogs": True, "wafSqlInjection": True, "allowIps": ALLOW, "denyIps": DENY,
                   "originReadTimeout": 120, "cdnPriceClass": "PriceClass_100"}}
# prod as it is (us-east-1) with the CDN turned on.
CDN_US = {"edge": {"cdn": True}}
CERT_US = f"arn:aws:acm:us-east-1:{mock_aws.ACCOUNT}:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
WAF_INSTANCE = "waf_v3prepaid_public_cn-0xl3k9sqa0a"
ALI_EDGE = {"edge": {"cdn": True, "waf": True, "wafInstanceId": WAF_INSTANCE, "allowIps": ["203.0.113.0/24"],
                     "denyIps": DENY, "wafRateLimit": 3000}}
ALI_WAF = {"size": "small", "edge": {"waf": True, "wafInstanceId": WAF_INSTANCE}}

T = {
    "distribution": "aws:cloudfront/distribution:Distribution",
    "request_policy": "aws:cloudfront/originRequestPolicy:OriginRequestPolicy",
    "acl": "aws:wafv2/webAcl:WebAcl",
    "ip_set": "aws:wafv2/ipSet:IpSet",
    "acl_logs": "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
    "log_group": "aws:cloudwatch/logGroup:LogGroup",
    "certificate": "aws:acm/certificate:Certificate",
    "validation": "aws:acm/certificateValidation:CertificateValidation",
    "record": "aws:route53/record:Record",
    "provider": "pulumi:providers:aws",
    "ingress": "kubernetes:networking.k8s.io/v1:Ingress",
    "cdn": "alicloud:cdn/domainNew:DomainNew",
    "cdn_config": "alicloud:cdn/domainConfig:DomainConfig",
    "waf_domain": "alicloud:wafv3/domain:Domain",
    "waf_template": "alicloud:wafv3/defenseTemplate:DefenseTemplate",
    "waf_rule": "alicloud:wafv3/defenseRule:DefenseRule",
    "dns": "alicloud:dns/alidnsRecord:AlidnsRecord",
}


def one(run: Run, key: str):
    found = run.of_type(T[key])
    assert len(found) == 1, f"{key}: {[r.name for r in found]}"
    return found[0]


def annotations(run: Run) -> dict:
    return one(run, "ingress").plain["metadata"]["annotations"]


def acl_rules(run: Run) -> dict[str, dict]:
    return {rule["name"]: rule for rule in one(run, "acl").plain["rules"]}


def provider_of(run: Run, resource) -> dict:
    return next(p.plain for p in run.of_type(T["provider"]) if resource.provider.rsplit("::", 1)[0] == p.urn)


@pytest.fixture(scope="module")
def prod() -> Run:
    return captured("prod")


@pytest.fixture(scope="module")
def cdn_eu() -> Run:
    """A later update of a stack whose name already points at the distribution."""
    previous = {"cdnDomain": "d111111abcdef8.cloudfront.net",
                "webAclArn": f"arn:aws:wafv2:us-east-1:{mock_aws.ACCOUNT}:global/webacl/dify-prod-waf-acl/x"}
    return run_program("prod", overrides=CDN_EU, previous_outputs=previous)


@pytest.fixture(scope="module")
def cdn_us(prod) -> Run:
    """The update that turns the CDN on for the stack prod left (a regional web ACL on the ALB)."""
    return run_program("prod", overrides=CDN_US, previous_outputs=prod.outputs)


@pytest.fixture(scope="module")
def ali_edge_run() -> Run:
    return cached_run("alicloud", ALI_EDGE)


# -- AWS: WAF ------------------------------------------------------------------------------------------

def test_production_gets_a_regional_web_acl_on_the_alb_by_default(prod):
    acl = one(prod, "acl")
    assert acl.plain["scope"] == "REGIONAL" and acl.plain["defaultAction"] == {"allow": {}}
    assert annotations(prod)[f"{ALB}wafv2-acl-arn"] == prod.outputs["webAclArn"]
    assert ":regional/webacl/" in prod.outputs["webAclArn"]
    assert not prod.of_type(T["distribution"]) and "cdnDomain" not in prod.outputs
    # Without the CDN the ALB keeps its ports, redirect and open security group.
    assert json.loads(annotations(prod)[f"{ALB}listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
    assert f"{ALB}security-group-prefix-lists" not in annotations(prod)


def test_the_rate_rule_counts_requests_per_ip_over_five_minutes_sized_per_preset(prod):
    rate = acl_rules(prod)["rate-per-ip"]
    statement = rate["statement"]["rateBasedStatement"]
    assert statement == {"limit": RATE_LIMITS["production"], "aggregateKeyType": "IP", "evaluationWindowSec": 300}
    assert rate["action"] == {"block": {}}
    assert RATE_LIMITS["dev"] < RATE_LIMITS["small"] < RATE_LIMITS["production"]


def test_managed_rule_groups_with_the_body_rules_dify_trips_set_to_count(prod, cdn_eu):
    rules = acl_rules(prod)
    groups = {name: r["statement"]["managedRuleGroupStatement"] for name, r in rules.items()
              if "managedRuleGroupStatement" in r["statement"]}
    assert set(groups) == {"AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesKnownBadInputsRuleSet",
                           "AWSManagedRulesCommonRuleSet"}
    assert all(g["vendorName"] == "AWS" for g in groups.values())
    assert all(rules[name]["overrideAction"] == {"none": {}} for name in groups)
    overrides = {o["name"]: o["actionToUse"] for o in groups["AWSManagedRulesCommonRuleSet"]["ruleActionOverrides"]}
    # Bodies over 8 KB (uploads, long prompts, workflow DSL) would otherwise be blocked.
    assert overrides["SizeRestrictions_BODY"] == {"count": {}}
    assert overrides == {"SizeRestrictions_BODY": {"count": {}}, "CrossSiteScripting_BODY": {"count": {}}}
    assert "AWSManagedRulesSQLiRuleSet" in acl_rules(cdn_eu)
    # Priorities are unique and the IP lists come first: denied before allowed, both before the rate rule.
    for run in (prod, cdn_eu):
        ordered = sorted(one(run, "acl").plain["rules"], key=lambda r: r["priority"])
        assert [r["priority"] for r in ordered] == list(range(len(ordered)))
    assert [r["name"] for r in sorted(one(cdn_eu, "acl").plain["rules"], key=lambda r: r["priority"])][:3] == [
        "deny-ips", "allow-ips", "rate-per-ip"]
    assert "deny-ips" not in rules and "allow-ips" not in rules


def test_ip_sets_per_address_family_referenced_by_the_allow_and_deny_rules(cdn_eu):
    sets = {r.name: r.plain for r in cdn_eu.of_type(T["ip_set"])}
    assert {n: (s["ipAddressVersion"], s["addresses"], s["scope"]) for n, s in sets.items()} == {
        "dify-prod-waf-deny-ipv4": ("IPV4", DENY, "CLOUDFRONT"),
        "dify-prod-waf-allow-ipv4": ("IPV4", ["203.0.113.0/24"], "CLOUDFRONT"),
        "dify-prod-waf-allow-ipv6": ("IPV6", ["2001:db8::/32"], "CLOUDFRONT"),
    }
    rules = acl_rules(cdn_eu)
    assert rules["deny-ips"]["action"] == {"block": {}}
    assert rules["allow-ips"]["action"] == {"allow": {}}
    allow = rules["allow-ips"]["statement"]["orStatement"]["statements"]
    acl = one(cdn_eu, "acl")
    assert {s["ipSetReferenceStatement"]["arn"].split("/")[-2] for s in allow} == {
        "dify-prod-waf-allow-ipv4", "dify-prod-waf-allow-ipv6"}
    assert "dify-prod-waf-deny-ipv4" in rules["deny-ips"]["statement"]["ipSetReferenceStatement"]["arn"]
    assert {f"dify-prod-waf-{n}" for n in ("deny-ipv4", "allow-ipv4", "allow-ipv6")} <= acl.depends_on


def test_waf_logs_go_to_an_aws_waf_logs_group_with_the_retention_and_secrets_redacted(cdn_eu, prod):
    group = next(g for g in cdn_eu.of_type(T["log_group"]) if g.name == "dify-prod-waf-logs")
    assert group.plain["name"].startswith("aws-waf-logs-") and group.plain["retentionInDays"] == 30
    logging = one(cdn_eu, "acl_logs").plain
    assert logging["logDestinationConfigs"] == [f"arn:aws:logs:us-east-1:{mock_aws.ACCOUNT}:log-group:"
                                                "aws-waf-logs-dify-prod-waf"]
    assert {f["singleHeader"]["name"] for f in logging["redactedFields"]} == {"authorization", "cookie"}
    # The log group of a CLOUDFRONT-scope ACL is in us-east-1 too.
    assert provider_of(cdn_eu, group)["region"] == "us-east-1"
    assert not prod.of_type(T["acl_logs"])


# -- AWS: CloudFront -----------------------------------------------------------------------------------

def test_the_distribution_caches_static_paths_only(cdn_eu):
    distribution = one(cdn_eu, "distribution").plain
    default = distribution["defaultCacheBehavior"]
    assert default["cachePolicyId"] == aws_edge.CACHING_DISABLED
    assert set(default["allowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}
    assert default["originRequestPolicyId"] == aws_edge.ALL_VIEWER_AND_CLOUDFRONT_HEADERS
    assert default["viewerProtocolPolicy"] == "redirect-to-https" and default["compress"] is False
    ordered = {b["pathPattern"]: b for b in distribution["orderedCacheBehaviors"]}
    assert set(ordered) == set(aws_edge.STATIC_PATHS) and "/_next/static/*" in ordered
    for behaviour in ordered.values():
        assert behaviour["cachePolicyId"] == aws_edge.CACHING_OPTIMIZED
        assert set(behaviour["allowedMethods"]) == {"GET", "HEAD", "OPTIONS"}
        assert behaviour["originRequestPolicyId"] == "dify-prod-cdn-static-id"
    # No API path is among the cached ones.
    for api in ("/console/api", "/api", "/v1", "/files", "/mcp", "/triggers", "/e/", "/socket.io"):
        assert not any(p.startswith(api) for p in ordered), api


def test_the_host_header_reaches_the_alb_on_every_behaviour(cdn_eu):
    """The ALB's certificate and Ingress rule are for the domain: CloudFront must send Host."""
    static = one(cdn_eu, "request_policy").plain
    assert static["headersConfig"] == {"headerBehavior": "whitelist", "headers": {"items": ["Host"]}}
    assert static["cookiesConfig"] == {"cookieBehavior": "none"}
    assert aws_edge.ALL_VIEWER_AND_CLOUDFRONT_HEADERS != "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # ExceptHost


def test_the_origin_is_the_alb_over_https_with_the_read_timeout(cdn_eu):
    distribution = one(cdn_eu, "distribution").plain
    (origin,) = distribution["origins"]
    assert origin["domainName"] == LB_HOSTNAME
    custom = origin["customOriginConfig"]
    assert custom["originProtocolPolicy"] == "https-only" and custom["originSslProtocols"] == ["TLSv1.2"]
    assert custom["originReadTimeout"] == 120 and custom["originKeepaliveTimeout"] == 60
    assert distribution["aliases"] == ["dify.example.com"]
    assert distribution["viewerCertificate"]["sslSupportMethod"] == "sni-only"
    assert distribution["viewerCertificate"]["minimumProtocolVersion"] == "TLSv1.2_2021"
    assert distribution["webAclId"] == cdn_eu.outputs["webAclArn"]
    assert ":global/webacl/" in cdn_eu.outputs["webAclArn"]
    assert cdn_eu.outputs["cdnDomain"].endswith(".cloudfront.net") and cdn_eu.outputs["cdnDistributionId"]


def test_certificate_and_cloudfront_scope_acl_are_made_through_a_us_east_1_provider(cdn_eu):
    regional = {p.name: p.plain["region"] for p in cdn_eu.of_type(T["provider"])}
    assert regional == {"dify-prod-aws": "eu-central-1", "dify-prod-aws-us-east-1": "us-east-1"}
    us_east_1 = next(p for p in cdn_eu.of_type(T["provider"]) if p.name == "dify-prod-aws-us-east-1")
    assert us_east_1.plain["defaultTags"] == next(
        p for p in cdn_eu.of_type(T["provider"]) if p.name == "dify-prod-aws").plain["defaultTags"]
    for key in ("distribution", "acl"):
        assert provider_of(cdn_eu, one(cdn_eu, key))["region"] == "us-east-1", key
    certificates = {c.name: provider_of(cdn_eu, c)["region"] for c in cdn_eu.of_type(T["certificate"])}
    assert certificates == {"dify-prod-tls-certificate": "eu-central-1",
                            "dify-prod-cdn-tls-certificate": "us-east-1"}
    assert one(cdn_eu, "acl").plain["scope"] == "CLOUDFRONT"
    # Validated by the record of the regional certificate (ACM gives both the same CNAME): one record.
    validation = next(v for v in cdn_eu.of_type(T["validation"]) if v.name == "dify-prod-cdn-tls-validation")
    record = next(r for r in cdn_eu.of_type(T["record"]) if r.name == "dify-prod-tls-validation")
    assert validation.plain["validationRecordFqdns"] == [record.plain["name"].rstrip(".")]
    assert record.urn in validation.dependency_urns
    assert len([r for r in cdn_eu.of_type(T["record"]) if "validation" in r.name]) == 1
    distribution = one(cdn_eu, "distribution")
    assert distribution.plain["viewerCertificate"]["acmCertificateArn"].startswith("arn:aws:acm:us-east-1:")


def test_in_us_east_1_the_albs_certificate_serves_the_distribution_too(cdn_us, cdn_eu):
    assert [p.name for p in cdn_us.of_type(T["provider"])] == ["dify-prod-aws"]
    (certificate,) = cdn_us.of_type(T["certificate"])
    validation = next(v for v in cdn_us.of_type(T["validation"]) if v.parent == "dify-prod-tls")
    assert validation.urn in one(cdn_us, "distribution").dependency_urns
    assert certificate.name == "dify-prod-tls-certificate"
    assert one(cdn_us, "distribution").plain["priceClass"] == "PriceClass_All"
    assert one(cdn_eu, "distribution").plain["priceClass"] == "PriceClass_100"
    assert one(cdn_us, "acl").plain["scope"] == "CLOUDFRONT"


def test_the_domain_aliases_the_distribution_instead_of_the_alb(cdn_eu, prod):
    records = {r.name: r.plain for r in cdn_eu.of_type(T["record"]) if r.name.startswith("dify-prod-dns")}
    assert {n: r["type"] for n, r in records.items()} == {"dify-prod-dns": "A", "dify-prod-dns-ipv6": "AAAA"}
    distribution = next(r for r in cdn_eu.resources if r.typ == T["distribution"])
    for record in records.values():
        (alias,) = record["aliases"]
        assert alias["name"].endswith(".cloudfront.net")
        assert alias == {"name": cdn_eu.outputs["cdnDomain"], "zoneId": mock_aws.CLOUDFRONT_ZONE_ID,
                         "evaluateTargetHealth": False}
        assert record["name"] == "dify.example.com"
    assert distribution.urn in next(r for r in cdn_eu.of_type(T["record"]) if r.name == "dify-prod-dns").dependency_urns
    (alb_alias,) = next(r for r in prod.of_type(T["record"]) if r.name == "dify-prod-dns").plain["aliases"]
    assert alb_alias["name"] == LB_HOSTNAME


def test_the_alb_admits_only_cloudfront_on_https(cdn_eu):
    shaped = annotations(cdn_eu)
    assert shaped[f"{ALB}security-group-prefix-lists"] == mock_aws.CLOUDFRONT_PREFIX_LIST
    # One port: the origin-facing list weighs 55 of a security group's default 60 rules.
    assert json.loads(shaped[f"{ALB}listen-ports"]) == [{"HTTPS": 443}]
    assert f"{ALB}ssl-redirect" not in shaped and f"{ALB}inbound-cidrs" not in shaped
    assert shaped[f"{ALB}scheme"] == "internet-facing"
    assert f"{ALB}wafv2-acl-arn" not in shaped


def test_the_update_that_adds_the_cdn_leaves_the_alb_open_and_detaches_the_regional_acl(cdn_us, cdn_eu):
    """Locking the ALB in the update that makes the distribution would cut viewers off until the record
    moves: the next update locks it."""
    shaped = annotations(cdn_us)
    assert f"{ALB}security-group-prefix-lists" not in shaped
    assert json.loads(shaped[f"{ALB}listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
    assert cdn_us.outputs["cdnOriginLocked"] is False and cdn_eu.outputs["cdnOriginLocked"] is True
    # The controller keeps an association whose annotation is gone; `none` removes it.
    assert shaped[f"{ALB}wafv2-acl-arn"] == "none"
    assert f"{ALB}wafv2-acl-arn" not in annotations(cdn_eu)


def test_no_secret_in_the_edge_resources_or_the_ingress(cdn_eu):
    edge_types = {T[k] for k in ("distribution", "request_policy", "acl", "ip_set", "acl_logs")}
    plain = json.dumps([r.plain for r in cdn_eu.resources if r.typ in edge_types] + [annotations(cdn_eu)])
    assert cdn_eu.secrets and not any(secret in plain for secret in cdn_eu.secrets)
    assert not any(is_secret(v) for r in cdn_eu.resources if r.typ in edge_types for v in r.inputs.values())


# -- Alibaba Cloud -------------------------------------------------------------------------------------

def test_alicloud_has_no_edge_by_default():
    run = captured("alicloud")
    assert not [r for r in run.resources if r.typ.startswith(("alicloud:cdn", "alicloud:wafv3"))]
    assert one(run, "dns").plain["type"] == "A"


def test_the_cdn_caches_static_directories_only_and_fetches_over_https(ali_edge_run):
    domain = one(ali_edge_run, "cdn").plain
    assert domain["domainName"] == "dify.example.com" and domain["cdnType"] == "web" and domain["scope"] == "domestic"
    assert domain["certificateConfig"] == {"certType": "cas", "certId": "1234567", "certRegion": "cn-hangzhou",
                                           "serverCertificateStatus": "on"}
    functions = [(c.plain["functionName"], {a["argName"]: a["argValue"] for a in c.plain["functionArgs"]})
                 for c in ali_edge_run.of_type(T["cdn_config"])]
    ttl = {args["path"]: (int(args["ttl"]), int(args["weight"])) for name, args in functions
           if name == "path_based_ttl_set"}
    assert ttl["/"] == (0, 1)
    for path in ali_edge.STATIC_DIRECTORIES:
        assert ttl[path][0] == ali_edge.STATIC_TTL_SECONDS and ttl[path][1] > ttl["/"][1]
    assert not any(p.startswith(("/console", "/api", "/v1", "/files", "/e")) for p in ttl)
    by_name = dict(functions)
    assert by_name["set_req_host_header"] == {"domain_name": "dify.example.com"}
    assert by_name["forward_scheme"] == {"enable": "on", "scheme_origin": "https", "scheme_origin_port": "443"}
    assert by_name["https_origin_sni"] == {"enabled": "on", "https_origin_sni": "dify.example.com"}
    assert by_name["https_force"]["enable"] == "on"
    assert by_name["filetype_based_ttl_set"]["file_type"] == "ico"
    # Each rule's name follows what it matches, so adding or removing one leaves the others in place.
    names = {c.name for c in ali_edge_run.of_type(T["cdn_config"])}
    assert {"dify-alicloud-cdn-path-based-ttl-set-root", "dify-alicloud-cdn-path-based-ttl-set-next-static",
            "dify-alicloud-cdn-forward-scheme"} <= names
    assert all(c.parent == "dify-alicloud-cdn-domain" for c in ali_edge_run.of_type(T["cdn_config"]))


def test_cdn_then_waf_then_clb_and_the_record_points_at_the_cdn(ali_edge_run):
    waf = one(ali_edge_run, "waf_domain").plain
    (source,) = one(ali_edge_run, "cdn").plain["sources"]
    assert source["type"] == "domain" and source["content"] == ali_edge_run.outputs["wafCname"]
    assert source["port"] == 443
    assert waf["redirect"]["backends"] == [ali_edge_run.outputs["loadBalancerAddress"]]
    assert waf["instanceId"] == WAF_INSTANCE and waf["accessType"] == "share"
    assert waf["listen"]["httpsPorts"] == [443] and waf["listen"]["certId"] == "1234567-cn-hangzhou"
    # Behind the CDN the client is the one the CDN names, not the connection's (a CDN node).
    assert waf["listen"]["xffHeaderMode"] == 2 and waf["listen"]["xffHeaders"] == ["Ali-Cdn-Real-Ip"]
    assert waf["redirect"]["readTimeout"] == 3600
    record = one(ali_edge_run, "dns").plain
    assert (record["type"], record["value"]) == ("CNAME", ali_edge_run.outputs["cdnDomain"])
    assert ali_edge_run.outputs["cdnDomain"].endswith(".w.cdngslb.com")


def test_waf_rules_rate_limit_and_ip_lists_bound_to_the_protected_domain(ali_edge_run):
    templates = {t.name: t.plain for t in ali_edge_run.of_type(T["waf_template"])}
    rules = {r.name: r.plain for r in ali_edge_run.of_type(T["waf_rule"])}
    assert {t["defenseScene"] for t in templates.values()} == {"custom_acl", "ip_blacklist", "whitelist"}
    assert all(t["resources"] == ["dify.example.com-waf"] and t["templateType"] == "user_custom"
               for t in templates.values())
    rate = rules["dify-alicloud-waf-rate-per-ip"]
    assert rate["defenseType"] == "template" and rate["config"]["ccStatus"] == 1
    assert rate["config"]["rateLimit"] == {"target": "remote_addr", "interval": 300, "threshold": 3000, "ttl": 600}
    assert rules["dify-alicloud-waf-deny-ips"]["config"] == {"remoteAddrs": DENY, "ruleAction": "block"}
    assert rules["dify-alicloud-waf-allow-ips"]["config"]["conditions"][0]["values"] == "203.0.113.0/24"
    for rule in ali_edge_run.of_type(T["waf_rule"]):
        assert rule.parent in templates


def test_waf_alone_takes_the_record_and_reads_the_connections_address():
    run = cached_run("alicloud", ALI_WAF)
    assert not run.of_type(T["cdn"])
    waf = one(run, "waf_domain").plain
    assert "xffHeaderMode" not in waf["listen"]
    record = one(run, "dns").plain
    assert (record["type"], record["value"]) == ("CNAME", run.outputs["wafCname"])
    rules = {r.name: r.plain for r in run.of_type(T["waf_rule"])}
    assert set(rules) == {"dify-alicloud-waf-rate-per-ip"}
    assert rules["dify-alicloud-waf-rate-per-ip"]["config"]["rateLimit"]["threshold"] == RATE_LIMITS["small"]


# -- change plans --------------------------------------------------------------------------------------

def test_turning_the_waf_then_the_cdn_on_replaces_nothing_stateful(prod, cdn_us):
    off = cached_run("prod", {"edge": {"waf": False}})
    assert not off.of_type(T["acl"]) and "webAclArn" not in off.outputs
    for before, after in ((off, prod), (prod, cdn_us)):
        assert stateful_losses(before, after) == []
        assert stateful_losses(after, before) == []
    steps = plan(prod, cdn_us)
    replaced = {name for _, name, _ in steps["replace"]}
    assert not any(name.startswith(("dify-prod-postgres", "dify-prod-redis", "dify-prod-files")) for name in replaced)
    # The hostname record is updated in place (same name and type), not deleted.
    assert ("aws:route53/record:Record", "dify-prod-dns", None) not in steps["delete"]


def test_turning_the_alicloud_edge_on_replaces_nothing_stateful(ali_edge_run):
    base = captured("alicloud")
    assert stateful_losses(base, ali_edge_run) == [] and stateful_losses(ali_edge_run, base) == []
    assert ("alicloud:dns/alidnsRecord:AlidnsRecord", "dify-alicloud-dns-record", None) not in plan(
        base, ali_edge_run)["delete"]


# -- refusals ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("stack", "overrides", "key", "hint"),
    [
        ("dev", {"edge": {"cdn": True}}, "edge.cdn", "targets aws and alicloud"),
        ("prod", {"edge": {"cdnScope": "global"}}, "edge.cdnScope", "target alicloud"),
        ("prod", {"edge": {"wafInstanceId": WAF_INSTANCE}}, "edge.wafInstanceId", "target alicloud"),
        ("alicloud", {"edge": {"wafLogs": True}}, "edge.wafLogs", "target aws"),
        ("alicloud", {"edge": {"cdnCertificateArn": CERT_US}}, "edge.cdnCertificateArn", "target aws"),
        ("prod", {"edge": {"waf": False, "wafRateLimit": 500}}, "edge.wafRateLimit", "WAF, which is off"),
        ("prod", {"edge": {"originReadTimeout": 90}}, "edge.originReadTimeout", "CDN, which is off"),
        ("prod", {"edge": {"allowIps": ["10.0.0.1/8"]}}, "edge.allowIps", "host bits"),
        ("prod", {"edge": {"denyIps": ["0.0.0.0/0"]}}, "edge.denyIps", "every address"),
        ("prod", {"edge": {"denyIps": ["banana"]}}, "edge.denyIps", "not a CIDR"),
        ("prod", {"edge": {"allowIps": DENY, "denyIps": DENY}}, "edge.denyIps", "in both"),
        ("prod", {"edge": {"wafRateLimit": 5}}, "edge.wafRateLimit", "10"),
        ("prod", {"edge": {"cdn": True, "originReadTimeout": 181}}, "edge.originReadTimeout", "180"),
        ("prod", {"edge": {"cdn": True, "cdnCertificateArn": CERT_US.replace("us-east-1", "eu-west-1")}},
         "edge.cdnCertificateArn", "us-east-1 only"),
        ("prod", {"edge": {"cdn": True, "cdnCertificateArn": CERT_US}}, "edge.cdnCertificateArn", "only one"),
        ("prod", {"domain": None, "edge": {"cdn": True}}, "edge.cdn", "`domain`"),
        ("prod", {"edge": {"cdn": True}, "aws": {"region": "us-east-1", "hostedZone": "example.com",
                                                 "loadBalancerInternal": True}},
         "aws.loadBalancerInternal", "internet-facing"),
        ("prod", {"edge": {"cdn": True}, "aws": {"region": "us-east-1", "hostedZone": "example.com",
                                                 "loadBalancerSourceRanges": ["203.0.113.0/24"]}},
         "aws.loadBalancerSourceRanges", "CloudFront's origin-facing"),
        ("prod", {"edge": {"cdn": True}, "aws": {"region": "eu-west-1", "certificateArn": CERT_US.replace(
            "us-east-1", "eu-west-1")}}, "edge.cdnCertificateArn", "us-east-1"),
        ("alicloud", {"edge": {"waf": True}}, "edge.wafInstanceId", "Purchase"),
        ("alicloud", {"edge": {"waf": True, "wafInstanceId": "i-123"}}, "edge.wafInstanceId", "WAF 3.0 instance"),
        ("alicloud", {"edge": {"cdn": True, "cdnCertificateId": "abc"}}, "edge.cdnCertificateId", "numeric"),
        ("alicloud", {"alicloud": {"region": "cn-hangzhou", "zones": ["cn-hangzhou-j", "cn-hangzhou-k"]},
                      "edge": {"cdn": True}}, "edge.cdnCertificateId", "SSL Certificates Service"),
        ("prod", {"edge": {"wafScope": "regional"}}, "edge.wafScope", "unknown key"),
        ("prod", {"edge": {"cdn": True}, "aws": {
            **stack_config("prod")[0][f"{PROJECT}:aws"],
            "dr": {"standbyRegion": "us-west-2", "failoverRecords": True, "standbyHostname": "standby.example.com"}}},
         "aws.dr.failoverRecords", "keep one"),
    ],
)
def test_misplaced_and_wrong_edge_keys_are_refused_naming_the_key(stack, overrides, key, hint):
    with pytest.raises(Exception) as raised:
        run_program(stack, overrides=overrides)
    message = str(raised.value)
    assert f"{PROJECT}:{key}" in message, message
    assert hint in message, message

