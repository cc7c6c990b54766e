"""The edge in front of the CLB on Alibaba Cloud: Alibaba Cloud CDN and WAF 3.0 (CNAME access).

Traffic: Alidns CNAME -> CDN (when on) -> WAF (when on) -> the CLB -> nginx. Each hop is a CNAME the
one before points at, so the record (or the CDN's origin) follows what is switched on.

- CDN (`cdn.DomainNew` + `cdn.DomainConfig` functions): HTTPS with a certificate from SSL Certificates
  Service, HTTP redirected to HTTPS, origin over HTTPS with the domain as Host and SNI (the CLB's
  listener and nginx serve the domain). Caching: nothing by default (a root directory rule with TTL 0 and
  the lowest weight), Dify web's build assets and public files for 30 days (higher weights). The CDN
  adds `Ali-Cdn-Real-Ip` (the viewer's address) and appends it to X-Forwarded-For.
- WAF 3.0 (`wafv3.Domain` on an existing instance): the domain's HTTPS listener with the CLB's
  certificate and its address as the back end; the client address is read from `Ali-Cdn-Real-Ip`
  behind the CDN (set by the CDN, so a viewer cannot forge it), else from the connection. The instance's
  default protection template (basic web protection) covers the new protected object, `<domain>-waf`;
  custom templates add a per-IP rate rule (custom ACL with rate limiting), a deny list and an allow list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
from components.alicloud.sdk import alicloud

from components.alicloud.common import tags

# path_based_ttl_set directories (weights 1-99: the higher wins).
STATIC_DIRECTORIES = ("/_next/static", "/logo", "/vs")
# A file type rule matches every path: only the favicon, which no API path serves.
STATIC_FILE_TYPES = ("ico",)
STATIC_TTL_SECONDS = 30 * 24 * 3600
RATE_WINDOW_SECONDS = 300
# How long an IP that crossed the rate limit stays blocked.
RATE_BLOCK_SECONDS = 600
# nginx's upstream read timeout: long streamed answers are not cut at WAF.
READ_TIMEOUT_SECONDS = 3600
VIEWER_ADDRESS_HEADER = "Ali-Cdn-Real-Ip"


def _function(name: str, **args: str) -> dict:
    return {"function_name": name, "function_args": [{"arg_name": k, "arg_value": v} for k, v in args.items()]}


def cdn_functions(domain: str, origin_https: bool) -> list[dict]:
    """The CDN domain's configuration: origin, redirect, caching (one DomainConfig per function)."""
    functions = [
        _function("set_req_host_header", domain_name=domain),
        _function("https_force", enable="on", https_rewrite="301"),
        # Nothing is cached unless a rule below says so.
        _function("path_based_ttl_set", path="/", ttl="0", weight="1"),
    ]
    if origin_https:
        functions += [_function("forward_scheme", enable="on", scheme_origin="https", scheme_origin_port="443"),
                      _function("https_origin_sni", enabled="on", https_origin_sni=domain)]
    functions += [_function("path_based_ttl_set", path=path, ttl=str(STATIC_TTL_SECONDS), weight="90")
                  for path in STATIC_DIRECTORIES]
    functions.append(_function("filetype_based_ttl_set", file_type=",".join(STATIC_FILE_TYPES),
                               ttl=str(STATIC_TTL_SECONDS), weight="80"))
    return functions


def config_name(prefix: str, function: dict) -> str:
    """A name that stays with its rule when others come and go: the function and, for cache rules, what
    the rule matches (`...-path-based-ttl-set-next-static`)."""
    args = {a["arg_name"]: a["arg_value"] for a in function["function_args"]}
    matched = args.get("path") or args.get("file_type") or ""
    slug = re.sub(r"[^a-z0-9]+", "-", matched.lower()).strip("-") or ("root" if matched == "/" else "")
    return "-".join(filter(None, (prefix, function["function_name"].replace("_", "-"), slug)))


@dataclass(frozen=True)
class CdnArgs:
    domain: str
    certificate_id: str
    # Where the CAS certificate lives: cn-hangzhou (mainland accounts) or ap-southeast-1.
    certificate_region: str
    scope: str
    origin_https: bool


class CdnDomain(pulumi.ComponentResource):
    """An accelerated domain whose origin is `origin` (an address, or a name such as WAF's CNAME)."""

    cname: pulumi.Output[str]

    def __init__(self, name: str, args: CdnArgs, origin: pulumi.Input[str], origin_is_address: bool,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:alicloud:CdnDomain", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.domain = alicloud.cdn.DomainNew(
            f"{name}-domain", domain_name=args.domain, cdn_type="web", scope=args.scope,
            sources=[{"content": origin, "type": "ipaddr" if origin_is_address else "domain",
                      "port": 443 if args.origin_https else 80, "priority": 20, "weight": 10}],
            certificate_config={"cert_type": "cas", "cert_id": args.certificate_id,
                                "cert_region": args.certificate_region, "server_certificate_status": "on"},
            tags=tags(), opts=child)
        self.configs = [
            alicloud.cdn.DomainConfig(config_name(name, function), domain_name=self.domain.domain_name, **function,
                                      opts=pulumi.ResourceOptions(parent=self.domain))
            for function in cdn_functions(args.domain, args.origin_https)
        ]
        self.cname = self.domain.cname
        self.register_outputs({"cname": self.cname})


@dataclass(frozen=True)
class WafArgs:
    instance_id: str
    domain: str
    # The SLB certificate ID (`<CAS id>-<region>`), the form WAF 3.0 takes too; None: HTTP only.
    certificate_id: Optional[str]
    rate_limit: int
    allow: Sequence[str] = ()
    deny: Sequence[str] = ()
    behind_cdn: bool = False


class WafDomain(pulumi.ComponentResource):
    """The domain as a WAF 3.0 protected object (CNAME access) in front of `backend`, with custom rules."""

    cname: pulumi.Output[str]

    def __init__(self, name: str, args: WafArgs, backend: pulumi.Input[str],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:alicloud:WafDomain", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        listen: dict = {"http_ports": [80]}
        if args.certificate_id:
            # HTTPS only; WAF answers plain HTTP with a redirect (focus_https needs no HTTP port).
            listen = {"https_ports": [443], "focus_https": True, "cert_id": args.certificate_id,
                      "tls_version": "tlsv1.2", "enable_tlsv3": True, "http2_enabled": True}
        if args.behind_cdn:
            listen.update(xff_header_mode=2, xff_headers=[VIEWER_ADDRESS_HEADER])
        self.domain = alicloud.wafv3.Domain(
            f"{name}-domain", instance_id=args.instance_id, domain=args.domain, access_type="share", listen=listen,
            redirect={"backends": [backend], "loadbalance": "iphash", "connect_timeout": 5,
                      "read_timeout": READ_TIMEOUT_SECONDS, "write_timeout": READ_TIMEOUT_SECONDS,
                      "keepalive": True, "retry": True, "xff_proto": True,
                      "sni_enabled": bool(args.certificate_id),
                      **({"sni_host": args.domain} if args.certificate_id else {})},
            tags=tags(), opts=child)
        self.cname = self.domain.cname
        # CNAME access names the protected object after the domain.
        protected = f"{args.domain}-waf"
        self.rules: dict[str, alicloud.wafv3.DefenseRule] = {}
        self._rule(name, "rate-per-ip", "custom_acl", args, protected, {
            "conditions": [{"key": "URL", "op_value": "prefix-match", "values": "/"}],
            "rule_action": "block", "cc_status": 1, "cc_effect": "rule",
            "rate_limit": {"target": "remote_addr", "interval": RATE_WINDOW_SECONDS, "threshold": args.rate_limit,
                           "ttl": RATE_BLOCK_SECONDS}})
        if args.deny:
            self._rule(name, "deny-ips", "ip_blacklist", args, protected,
                       {"remote_addrs": list(args.deny), "rule_action": "block"})
        if args.allow:
            self._rule(name, "allow-ips", "whitelist", args, protected, {
                "conditions": [{"key": "IP", "op_value": "contain", "values": ",".join(args.allow)}],
                "bypass_tags": ["waf"]})
        self.register_outputs({"cname": self.cname})

    def _rule(self, name: str, rule: str, scene: str, args: WafArgs, protected: str, config: dict) -> None:
        template = alicloud.wafv3.DefenseTemplate(
            f"{name}-{rule}", instance_id=args.instance_id, defense_template_name=f"{name}-{rule}"[:255],
            defense_scene=scene, template_type="user_custom", template_origin="custom", status="1",
            resources=[protected], description=f"Dify {args.domain}: {rule}",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.domain]))
        self.rules[rule] = alicloud.wafv3.DefenseRule(
            f"{name}-{rule}", instance_id=args.instance_id, defense_type="template", defense_origin="custom",
            defense_scene=scene, template_id=template.defense_template_id, rule_name=rule, rule_status=1,
            config=config, opts=pulumi.ResourceOptions(parent=template))
