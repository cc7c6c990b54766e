"""The way in on AWS: an Application Load Balancer, made by the AWS Load Balancer Controller from the
nginx Ingress, with an ACM certificate (validated through Route 53, or given by ARN) and an alias
record for the domain.

The ALB ends TLS with a TLS 1.3 policy, redirects HTTP to HTTPS, sends traffic straight to the nginx
pods (target type `ip`) and sets X-Forwarded-Proto, which nginx passes on to Dify. Its idle timeout
matches nginx's upstream read timeout so long streamed answers are not cut.
"""

from __future__ import annotations

import json
from typing import Optional, Sequence

import pulumi
from components.aws.sdk import aws

from components.kubernetes.entry import Entry

_ALB = "alb.ingress.kubernetes.io/"
INGRESS_CLASS = "alb"
SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
IDLE_TIMEOUT_SECONDS = 3600


def alb_annotations(certificate_arn: Optional[pulumi.Input[str]], internal: bool,
                    source_ranges: Sequence[str], health_path: str) -> dict[str, pulumi.Input[str]]:
    annotations: dict[str, pulumi.Input[str]] = {
        f"{_ALB}scheme": "internal" if internal else "internet-facing",
        f"{_ALB}target-type": "ip",
        f"{_ALB}backend-protocol": "HTTP",
        f"{_ALB}healthcheck-path": health_path,
        f"{_ALB}load-balancer-attributes": f"idle_timeout.timeout_seconds={IDLE_TIMEOUT_SECONDS},"
                                          "routing.http.drop_invalid_header_fields.enabled=true",
    }
    if source_ranges:
        annotations[f"{_ALB}inbound-cidrs"] = ",".join(source_ranges)
    if certificate_arn is None:
        annotations[f"{_ALB}listen-ports"] = json.dumps([{"HTTP": 80}])
        return annotations
    annotations.update({
        f"{_ALB}listen-ports": json.dumps([{"HTTP": 80}, {"HTTPS": 443}]),
        f"{_ALB}ssl-redirect": "443",
        f"{_ALB}certificate-arn": certificate_arn,
        f"{_ALB}ssl-policy": SSL_POLICY,
    })
    return annotations


def alb_entry(certificate_arn: Optional[pulumi.Input[str]], domain: Optional[str], internal: bool,
              source_ranges: Sequence[str], health_path: str) -> Entry:
    return Entry(
        kind="ingress",
        ingress_class=INGRESS_CLASS,
        ingress_host=domain,
        annotations=alb_annotations(certificate_arn, internal, source_ranges, health_path),  # type: ignore[arg-type]
        # TLS ends at the ALB: Dify's public URLs are https.
        tls_at_load_balancer=certificate_arn is not None,
        # The controller adds readiness gates to the pods behind the ALB: a rollout goes on only once the
        # new pods are healthy targets, so the ALB never points at nothing (pods are targets by IP).
        namespace_labels={"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled"},
    )


def zone_for(domain: str, zone: str) -> str:
    """Checks that `domain` lies in `zone` (the zone's apex or a name under it)."""
    if domain != zone and not domain.endswith(f".{zone}"):
        raise ValueError(f"domain {domain!r} is not in the hosted zone {zone!r}")
    return zone


class ValidatedCertificate(pulumi.ComponentResource):
    """An ACM certificate for `domain`, validated by DNS records in the hosted zone."""

    def __init__(self, name: str, domain: str, zone_id: pulumi.Input[str],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:aws:ValidatedCertificate", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        certificate = aws.acm.Certificate(f"{name}-certificate", domain_name=domain, validation_method="DNS",
                                          key_algorithm="EC_prime256v1", opts=child)
        option = certificate.domain_validation_options.apply(lambda options: options[0])
        record = aws.route53.Record(
            f"{name}-validation", zone_id=zone_id, name=option.resource_record_name,
            type=option.resource_record_type, records=[option.resource_record_value], ttl=300,
            allow_overwrite=True, opts=child)
        validation = aws.acm.CertificateValidation(
            f"{name}-validation", certificate_arn=certificate.arn, validation_record_fqdns=[record.fqdn], opts=child)
        self.arn: pulumi.Output[str] = validation.certificate_arn
        self.validation_fqdn: pulumi.Output[str] = record.fqdn
        self.register_outputs({"arn": self.arn})


def alias_record(name: str, domain: str, zone_id: pulumi.Input[str], load_balancer_hostname: pulumi.Input[str],
                 load_balancer_zone_id: pulumi.Input[str], opts: pulumi.ResourceOptions) -> aws.route53.Record:
    """An A alias to the ALB (works at a zone apex too, unlike a CNAME)."""
    return aws.route53.Record(
        name, zone_id=zone_id, name=domain, type="A",
        aliases=[{"name": load_balancer_hostname, "zone_id": load_balancer_zone_id, "evaluate_target_health": True}],
        allow_overwrite=False, opts=opts)
