"""Route 53 DNS failover from the primary ALB to the standby.

- A health check asks the primary ALB, by its own DNS name, for Dify's console ping
  (`/console/api/ping`, through nginx to the api): it follows the primary, not whatever the failover
  name answers at the moment (checking `domain` itself would flap between the two). Route 53 sends
  the ALB name as Host, so the Ingress takes any host when failover is on (nginx does anyway).
- `domain` becomes a PRIMARY/SECONDARY pair of A aliases: the primary to the ALB (also judged by the
  ALB's own target health), the secondary to the standby ALB, or to a name in the hosted zone that the
  runbook points at it once the standby stack is up.
"""

from __future__ import annotations

import pulumi
from components.aws.sdk import aws

PING_PATH = "/console/api/ping"
# Every 10 s from each checker region, unhealthy after 3 misses: failover about 30-60 s after an outage,
# plus the record's TTL (60 s for ALB aliases) in resolvers.
REQUEST_INTERVAL = 10
FAILURE_THRESHOLD = 3


def health_check(name: str, load_balancer_hostname: pulumi.Input[str], https: bool,
                 opts: pulumi.ResourceOptions) -> aws.route53.HealthCheck:
    return aws.route53.HealthCheck(
        name, type="HTTPS" if https else "HTTP", fqdn=load_balancer_hostname, port=443 if https else 80,
        resource_path=PING_PATH, enable_sni=https, request_interval=REQUEST_INTERVAL,
        failure_threshold=FAILURE_THRESHOLD, measure_latency=False, tags={"Name": name}, opts=opts)


def failover_records(name: str, domain: str, zone_id: pulumi.Input[str], load_balancer_hostname: pulumi.Input[str],
                     load_balancer_zone_id: pulumi.Input[str], check: aws.route53.HealthCheck,
                     standby_hostname: str, standby_zone_id: pulumi.Input[str],
                     opts: pulumi.ResourceOptions) -> tuple[aws.route53.Record, aws.route53.Record]:
    """`name` is the simple alias record's logical name: the primary takes its place. A simple and a
    failover record cannot share a name, so the old one goes first (a gap of seconds, once)."""
    primary = aws.route53.Record(
        name, zone_id=zone_id, name=domain, type="A", set_identifier="primary",
        failover_routing_policies=[{"type": "PRIMARY"}], health_check_id=check.id,
        aliases=[{"name": load_balancer_hostname, "zone_id": load_balancer_zone_id, "evaluate_target_health": True}],
        allow_overwrite=False, opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=True)))
    secondary = aws.route53.Record(
        f"{name}-secondary", zone_id=zone_id, name=domain, type="A", set_identifier="secondary",
        failover_routing_policies=[{"type": "SECONDARY"}],
        aliases=[{"name": standby_hostname, "zone_id": standby_zone_id, "evaluate_target_health": False}],
        allow_overwrite=False, opts=opts)
    return primary, secondary


def standby_zone(standby_hostname: str, standby_region: str, hosted_zone_id: str,
                 opts: pulumi.InvokeOptions) -> str:
    """The hosted zone of the secondary's alias target: the ALBs' zone of the standby region for an ALB
    name, else the hosted zone itself (an alias to another record of the zone)."""
    if standby_hostname.endswith(f".{standby_region}.elb.amazonaws.com"):
        return aws.lb.get_hosted_zone_id(load_balancer_type="application", region=standby_region, opts=opts).id
    return hosted_zone_id

