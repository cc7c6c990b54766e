"""CloudWatch for the AWS target: container logs and metrics (the `amazon-cloudwatch-observability`
EKS add-on, with its log groups made first so they keep `retention_days`), and alarms on RDS,
ElastiCache, the ALB and the OpenSearch domain (when it is the vector store), sent to an SNS topic
encrypted with a key CloudWatch may use.

- The add-on's agent and Fluent Bit run as `amazon-cloudwatch/cloudwatch-agent`, an IRSA role with
  CloudWatchAgentServerPolicy. Fluent Bit and the agent create their log groups when missing, without
  retention; the four groups Container Insights writes are declared here before the add-on.
- Alarms notify on ALARM and on OK. Gauges the service reports all the time keep their state when data
  is missing (a stopped instance does not page); counts that are absent when zero (5xx) read as not
  breaching; the ALB's healthy-target count reads as breaching when missing (no targets report nothing).
- The OpenSearch alarms are the ones AWS recommends for OpenSearch Service (namespace AWS/ES, dimensions
  DomainName and ClientId, the account): cluster red, yellow (only with more than one data node: one
  node cannot hold a replica), a node's free storage (MiB, the least of the nodes) below a quarter of
  its volume, index writes blocked, automated snapshot failure, CPU and JVM memory pressure.
- The ALB is the AWS Load Balancer Controller's, so its ARN is looked up by the tags the controller
  puts on it (cluster, `<namespace>/<ingress>` stack, resource id), once the Ingress has an address.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
from components.aws.sdk import aws

from components.alarm_levels import JVM_MEMORY_PRESSURE_PERCENT
from components.aws import iam

ADDON = "amazon-cloudwatch-observability"
AGENT_NAMESPACE, AGENT_SERVICE_ACCOUNT = "amazon-cloudwatch", "cloudwatch-agent"
CONTAINER_INSIGHTS_GROUPS = ("application", "dataplane", "host", "performance")
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator")
PERIOD = 300


def control_plane_log_group_name(cluster_name: str) -> str:
    """The group EKS writes control-plane logs to (it creates it, without retention, when missing)."""
    return f"/aws/eks/{cluster_name}/cluster"


def container_insights_log_group_name(cluster_name: str, group: str) -> str:
    return f"/aws/containerinsights/{cluster_name}/{group}"


def topic_key_policy(account: str, partition: str) -> str:
    """The account administers the key; CloudWatch (for this account's alarms) may encrypt to the topic."""
    return iam.document([
        {"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "CloudWatchAlarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": account}}},
    ])


def topic_policy(topic_arn: str, account: str) -> str:
    return iam.document([{
        "Sid": "CloudWatchAlarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish", "Resource": topic_arn,
        "Condition": {"StringEquals": {"aws:SourceAccount": account}},
    }])


@dataclass(frozen=True)
class AlarmThresholds:
    cpu_percent: float
    periods: int
    error_rate_percent: float
    response_time_seconds: float
    cache_memory_percent: float
    # RDS: alarm below these many free bytes; None where the instance class is unknown.
    free_storage_bytes: Optional[int]
    freeable_memory_bytes: Optional[int]
    database_connections: int
    cache_connections: int


@dataclass(frozen=True)
class OpenSearchTarget:
    """The domain the alarms watch and what its size gives them."""

    domain_name: pulumi.Input[str]
    # Alarm below this much free storage on any data node (CloudWatch reports MiB per node).
    free_storage_mib: int
    # More than one data node: replicas can be allocated, so a yellow cluster means a lost node.
    replicas: bool


@dataclass(frozen=True)
class AlbTargets:
    """What identifies the controller's ALB and the nginx target group (the controller's own tags)."""

    namespace: str
    ingress: str
    service: str
    port: str

    def load_balancer_tags(self, cluster_name: str) -> dict[str, str]:
        return {"elbv2.k8s.aws/cluster": cluster_name, "ingress.k8s.aws/stack": f"{self.namespace}/{self.ingress}",
                "ingress.k8s.aws/resource": "LoadBalancer"}

    def target_group_tags(self, cluster_name: str) -> dict[str, str]:
        return {"elbv2.k8s.aws/cluster": cluster_name, "ingress.k8s.aws/stack": f"{self.namespace}/{self.ingress}",
                "ingress.k8s.aws/resource": f"{self.namespace}/{self.ingress}-{self.service}:{self.port}"}


class ContainerInsights(pulumi.ComponentResource):
    """The CloudWatch Observability add-on (agent + Fluent Bit) with IRSA and retention on its log groups."""

    def __init__(self, name: str, *, cluster_name: pulumi.Input[str], kubernetes_version: str, partition: str,
                 oidc_provider_arn: pulumi.Input[str], issuer_url: pulumi.Input[str], retention_days: int,
                 depends_on: Sequence[pulumi.Resource], opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:aws:ContainerInsights", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        groups = [
            aws.cloudwatch.LogGroup(f"{name}-{group}", retention_in_days=retention_days,
                                    name=pulumi.Output.from_input(cluster_name).apply(
                                        lambda n, g=group: container_insights_log_group_name(n, g)), opts=child)
            for group in CONTAINER_INSIGHTS_GROUPS
        ]
        self.log_groups = groups
        role = aws.iam.Role(
            f"{name}-agent", description="CloudWatch agent and Fluent Bit (Container Insights)",
            assume_role_policy=pulumi.Output.all(oidc_provider_arn, issuer_url).apply(
                lambda a: iam.web_identity_trust(a[0], a[1], AGENT_NAMESPACE, AGENT_SERVICE_ACCOUNT)),
            opts=child)
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-agent", role=role.name, policy_arn=iam.managed_policy(partition, "CloudWatchAgentServerPolicy"),
            opts=pulumi.ResourceOptions(parent=role))
        # EKS's default build of the add-on for the cluster's Kubernetes version.
        version = aws.eks.get_addon_version_output(addon_name=ADDON, kubernetes_version=kubernetes_version,
                                                   opts=pulumi.InvokeOutputOptions(parent=self))
        self.addon = aws.eks.Addon(
            f"{name}-addon", cluster_name=cluster_name, addon_name=ADDON, addon_version=version.version,
            service_account_role_arn=role.arn,
            configuration_values=json.dumps({"containerLogs": {"enabled": True}}),
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*depends_on, *groups, attachment]))
        self.register_outputs({"addonVersion": version.version})


class CloudWatchAlarms(pulumi.ComponentResource):
    """An encrypted SNS topic (with an optional e-mail subscription) and the alarms that notify it."""

    def __init__(self, name: str, *, account: str, partition: str, thresholds: AlarmThresholds,
                 alert_email: Optional[str], rds_identifier: Optional[pulumi.Input[str]] = None,
                 cache_members: Optional[Sequence[pulumi.Input[str]]] = None,
                 alb: Optional[AlbTargets] = None, cluster_name: Optional[pulumi.Input[str]] = None,
                 alb_ready: Optional[pulumi.Input[object]] = None,
                 opensearch: Optional[OpenSearchTarget] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:aws:CloudWatchAlarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.thresholds = thresholds
        key = aws.kms.Key(f"{name}-topic", description=f"{name}: the alarm topic",
                          enable_key_rotation=True, deletion_window_in_days=30,
                          policy=topic_key_policy(account, partition), opts=child)
        self.topic = aws.sns.Topic(f"{name}-topic", kms_master_key_id=key.arn, opts=child)
        aws.sns.TopicPolicy(f"{name}-topic", arn=self.topic.arn,
                            policy=self.topic.arn.apply(lambda arn: topic_policy(arn, account)), opts=child)
        if alert_email:
            aws.sns.TopicSubscription(f"{name}-email", topic=self.topic.arn, protocol="email", endpoint=alert_email,
                                      opts=child)
        self.alarms: list[aws.cloudwatch.MetricAlarm] = []
        if rds_identifier is not None:
            self._database(name, rds_identifier)
        for i, member in enumerate(cache_members or ()):
            self._cache(f"{name}-cache-{i + 1}", member)
        if alb is not None and cluster_name is not None:
            self._load_balancer(name, alb, cluster_name, alb_ready)
        if opensearch is not None:
            self._opensearch(f"{name}-opensearch", opensearch, account)
        self.register_outputs({"topicArn": self.topic.arn})

    def _alarm(self, name: str, description: str, *, missing: str, **args) -> None:
        self.alarms.append(aws.cloudwatch.MetricAlarm(
            name, alarm_description=description, alarm_actions=[self.topic.arn], ok_actions=[self.topic.arn],
            treat_missing_data=missing, opts=pulumi.ResourceOptions(parent=self), **args))

    def _database(self, name: str, identifier: pulumi.Input[str]) -> None:
        t = self.thresholds
        dims = {"DBInstanceIdentifier": identifier}
        common = dict(namespace="AWS/RDS", dimensions=dims, period=PERIOD, evaluation_periods=t.periods)
        self._alarm(f"{name}-rds-cpu", f"RDS CPU above {t.cpu_percent:g} % for {t.periods * 5} minutes",
                    metric_name="CPUUtilization", statistic="Average", comparison_operator="GreaterThanThreshold",
                    threshold=t.cpu_percent, missing="missing", **common)
        self._alarm(f"{name}-rds-connections",
                    f"RDS connections above {t.database_connections} (the connection budget's limit)",
                    metric_name="DatabaseConnections", statistic="Maximum", comparison_operator="GreaterThanThreshold",
                    threshold=t.database_connections, missing="missing", **common)
        if t.free_storage_bytes is not None:
            self._alarm(f"{name}-rds-storage", f"RDS free storage below {t.free_storage_bytes // 2**30} GiB",
                        metric_name="FreeStorageSpace", statistic="Minimum", comparison_operator="LessThanThreshold",
                        threshold=t.free_storage_bytes, missing="missing", **common)
        if t.freeable_memory_bytes is not None:
            self._alarm(f"{name}-rds-memory", f"RDS freeable memory below {t.freeable_memory_bytes // 2**20} MiB",
                        metric_name="FreeableMemory", statistic="Minimum", comparison_operator="LessThanThreshold",
                        threshold=t.freeable_memory_bytes, missing="missing", **common)

    def _cache(self, name: str, member: pulumi.Input[str]) -> None:
        t = self.thresholds
        common = dict(namespace="AWS/ElastiCache", dimensions={"CacheClusterId": member}, period=PERIOD)
        self._alarm(f"{name}-memory", f"ElastiCache memory above {t.cache_memory_percent:g} % (noeviction: writes "
                    "fail when full)", metric_name="DatabaseMemoryUsagePercentage", statistic="Maximum",
                    comparison_operator="GreaterThanThreshold", threshold=t.cache_memory_percent,
                    evaluation_periods=t.periods, missing="missing", **common)
        self._alarm(f"{name}-evictions", "ElastiCache evicted keys (queued tasks may be lost)",
                    metric_name="Evictions", statistic="Sum", comparison_operator="GreaterThanThreshold",
                    threshold=0, evaluation_periods=1, missing="notBreaching", **common)
        self._alarm(f"{name}-connections", f"ElastiCache connections above {t.cache_connections}",
                    metric_name="CurrConnections", statistic="Maximum", comparison_operator="GreaterThanThreshold",
                    threshold=t.cache_connections, evaluation_periods=t.periods, missing="missing", **common)

    def _load_balancer(self, name: str, alb: AlbTargets, cluster_name: pulumi.Input[str],
                       ready: Optional[pulumi.Input[object]]) -> None:
        t = self.thresholds
        # The lookups wait for the Ingress's address: before it the controller has made no ALB.
        cluster = pulumi.Output.all(cluster_name, ready).apply(lambda a: a[0])
        invoke = pulumi.InvokeOutputOptions(parent=self)
        balancer = aws.lb.get_load_balancer_output(tags=cluster.apply(alb.load_balancer_tags), opts=invoke)
        group = aws.lb.get_target_group_output(tags=cluster.apply(alb.target_group_tags), opts=invoke)
        lb_dim = {"LoadBalancer": balancer.arn_suffix}
        both = {"LoadBalancer": balancer.arn_suffix, "TargetGroup": group.arn_suffix}

        def metric(id_: str, metric_name: str) -> dict:
            return {"id": id_, "return_data": False, "metric": {
                "namespace": "AWS/ApplicationELB", "metric_name": metric_name, "dimensions": lb_dim,
                "period": PERIOD, "stat": "Sum"}}

        self._alarm(
            f"{name}-alb-5xx", f"ALB 5xx above {t.error_rate_percent:g} % of requests (at least 10 requests)",
            comparison_operator="GreaterThanThreshold", threshold=t.error_rate_percent,
            evaluation_periods=t.periods, missing="notBreaching",
            metric_queries=[
                metric("requests", "RequestCount"), metric("elb", "HTTPCode_ELB_5XX_Count"),
                metric("target", "HTTPCode_Target_5XX_Count"),
                {"id": "rate", "return_data": True, "label": "5xx %",
                 "expression": "IF(requests >= 10, 100 * (FILL(elb, 0) + FILL(target, 0)) / requests, 0)"},
            ])
        self._alarm(f"{name}-alb-latency", f"ALB median response time above {t.response_time_seconds:g} s",
                    namespace="AWS/ApplicationELB", metric_name="TargetResponseTime", dimensions=lb_dim,
                    extended_statistic="p50", period=PERIOD, evaluation_periods=t.periods,
                    comparison_operator="GreaterThanThreshold", threshold=t.response_time_seconds,
                    missing="notBreaching")
        self._alarm(f"{name}-alb-unhealthy", "ALB has unhealthy nginx targets for 5 minutes",
                    namespace="AWS/ApplicationELB", metric_name="UnHealthyHostCount", dimensions=both,
                    statistic="Maximum", period=60, evaluation_periods=5, comparison_operator="GreaterThanThreshold",
                    threshold=0, missing="notBreaching")
        self._alarm(f"{name}-alb-no-healthy", "ALB has no healthy nginx target",
                    namespace="AWS/ApplicationELB", metric_name="HealthyHostCount", dimensions=both,
                    statistic="Minimum", period=60, evaluation_periods=2, comparison_operator="LessThanThreshold",
                    threshold=1, missing="breaching")

    def _opensearch(self, name: str, target: OpenSearchTarget, account: str) -> None:
        t = self.thresholds
        common = dict(namespace="AWS/ES", dimensions={"DomainName": target.domain_name, "ClientId": account})
        at_least = "GreaterThanOrEqualToThreshold"
        self._alarm(f"{name}-red", "OpenSearch cluster red: a primary shard is unassigned (searches miss data)",
                    metric_name="ClusterStatus.red", statistic="Maximum", comparison_operator=at_least, threshold=1,
                    period=60, evaluation_periods=1, missing="missing", **common)
        if target.replicas:
            self._alarm(f"{name}-yellow", "OpenSearch cluster yellow for 5 minutes: a replica shard is unassigned",
                        metric_name="ClusterStatus.yellow", statistic="Maximum", comparison_operator=at_least,
                        threshold=1, period=60, evaluation_periods=5, missing="missing", **common)
        self._alarm(f"{name}-storage", f"OpenSearch node free storage below {target.free_storage_mib} MiB "
                    "(a quarter of its volume)", metric_name="FreeStorageSpace", statistic="Minimum",
                    comparison_operator="LessThanOrEqualToThreshold", threshold=target.free_storage_mib,
                    period=60, evaluation_periods=1, missing="missing", **common)
        self._alarm(f"{name}-writes-blocked", "OpenSearch blocks index writes (new documents are refused)",
                    metric_name="ClusterIndexWritesBlocked", statistic="Maximum", comparison_operator=at_least,
                    threshold=1, period=PERIOD, evaluation_periods=1, missing="missing", **common)
        self._alarm(f"{name}-snapshot", "OpenSearch automated snapshot failed",
                    metric_name="AutomatedSnapshotFailure", statistic="Maximum", comparison_operator=at_least,
                    threshold=1, period=60, evaluation_periods=1, missing="missing", **common)
        self._alarm(f"{name}-cpu", f"OpenSearch CPU at {t.cpu_percent:g} % or more for {t.periods * 5} minutes",
                    metric_name="CPUUtilization", statistic="Maximum", comparison_operator=at_least,
                    threshold=t.cpu_percent, period=PERIOD, evaluation_periods=t.periods, missing="missing", **common)
        self._alarm(f"{name}-jvm", f"OpenSearch JVM memory pressure at {JVM_MEMORY_PRESSURE_PERCENT:g} % or more "
                    "for 3 minutes", metric_name="JVMMemoryPressure", statistic="Maximum",
                    comparison_operator=at_least, threshold=JVM_MEMORY_PRESSURE_PERCENT, period=60,
                    evaluation_periods=3, missing="missing", **common)
