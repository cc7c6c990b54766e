"""Logs, metrics and alarms on the cloud targets, under mocks: what exists, where it points, which
thresholds the size preset and the connection budget give, and what a stack without them declares."""

from __future__ import annotations

import json
import math

import pytest

from stacks import budget
from stacks.cloud_monitoring import CLOUDWATCH_RETENTION_DAYS, redis_clients
from stacks.config import StackConfig
from tests.captured import captured
from tools.mocks import PROJECT, Run, run_program, stack_config
from tools.mocks import aws as aws_mock

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ADDON = "aws:eks/addon:Addon"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
CMS_ALARM = "alicloud:cms/alarm:Alarm"
OBSERVABILITY = "amazon-cloudwatch-observability"


def aws_base() -> dict:
    return dict(stack_config("prod")[0][f"{PROJECT}:aws"])


def alarms(run: Run) -> dict[str, dict]:
    return {r.name.removeprefix(f"dify-{r.name.split('-')[1]}-alarms-"): r.plain for r in run.of_type(ALARM)}


def cms_alarms(run: Run) -> dict[str, dict]:
    return {r.name.removeprefix("dify-alicloud-alarms-"): r.plain for r in run.of_type(CMS_ALARM)}


def observability(run: Run) -> list[dict]:
    return [r.plain for r in run.of_type(ADDON) if r.plain["addonName"] == OBSERVABILITY]


@pytest.fixture(scope="module")
def prod() -> Run:
    return captured("prod")


@pytest.fixture(scope="module")
def prod_with_email() -> Run:
    return run_program("prod", {"monitoring": {"alertEmail": "Ops.Team@Example.com", "logRetentionDays": 90}})


# -- AWS ------------------------------------------------------------------------------------------

def test_rds_elasticache_and_alb_alarms_exist(prod):
    names = set(alarms(prod))
    assert {"rds-cpu", "rds-connections", "rds-storage", "rds-memory"} <= names
    # One set per cache node (primary and replica in production).
    assert {f"cache-{n}-{m}" for n in (1, 2) for m in ("memory", "evictions", "connections")} <= names
    assert {"alb-5xx", "alb-latency", "alb-unhealthy", "alb-no-healthy"} <= names
    found = alarms(prod)
    assert found["rds-cpu"]["metricName"] == "CPUUtilization" and found["rds-cpu"]["namespace"] == "AWS/RDS"
    assert found["cache-1-memory"]["metricName"] == "DatabaseMemoryUsagePercentage"
    assert found["cache-1-evictions"]["metricName"] == "Evictions"
    assert found["cache-1-connections"]["metricName"] == "CurrConnections"
    assert found["alb-latency"]["metricName"] == "TargetResponseTime"
    assert found["alb-unhealthy"]["metricName"] == "UnHealthyHostCount"


def test_alarms_point_at_the_instances_and_the_controllers_alb(prod):
    found = alarms(prod)
    rds = prod.named("aws:rds/instance:Instance", "dify-prod-postgres-rds")
    identifier = f"{rds.name}-{aws_mock._suffix(rds.name, 7)}"
    assert found["rds-cpu"]["dimensions"] == {"DBInstanceIdentifier": identifier}
    group = f"dify-prod-redis-redis-{aws_mock._suffix('dify-prod-redis-redis', 7)}"
    assert found["cache-1-memory"]["dimensions"] == {"CacheClusterId": f"{group}-001"}
    assert found["cache-2-memory"]["dimensions"] == {"CacheClusterId": f"{group}-002"}
    # The lookups by the controller's tags (stack dify/nginx) gave the ALB's and the target group's suffixes.
    lb = found["alb-latency"]["dimensions"]["LoadBalancer"]
    assert lb.startswith("app/k8s-dify-nginx-")
    unhealthy = found["alb-unhealthy"]["dimensions"]
    assert unhealthy["LoadBalancer"] == lb and unhealthy["TargetGroup"].startswith("targetgroup/")
    rate = found["alb-5xx"]["metricQueries"]
    assert {q["id"] for q in rate} == {"requests", "elb", "target", "rate"}
    assert all(q["metric"]["dimensions"] == {"LoadBalancer": lb} for q in rate if "metric" in q)


def test_the_alb_lookup_uses_the_controllers_tags():
    from components.aws.monitoring import AlbTargets

    targets = AlbTargets(namespace="dify", ingress="nginx", service="nginx", port="http")
    assert targets.load_balancer_tags("dify-prod-cluster-eks") == {"elbv2.k8s.aws/cluster": "dify-prod-cluster-eks",
                                                                   "ingress.k8s.aws/stack": "dify/nginx",
                                                                   "ingress.k8s.aws/resource": "LoadBalancer"}
    assert targets.target_group_tags("c")["ingress.k8s.aws/resource"] == "dify/nginx-nginx:http"


def test_a_cluster_named_before_the_name_was_fixed_keeps_its_name(prod):
    cluster = prod.named("aws:eks/cluster:Cluster", "dify-prod-cluster-eks")
    assert "name" in cluster.options["ignoreChanges"]


def test_every_alarm_notifies_the_topic_on_alarm_and_ok_and_treats_missing_data(prod):
    topic = prod.named("aws:sns/topic:Topic", "dify-prod-alarms-topic")
    arn = f"arn:aws:sns:us-east-1:{aws_mock.ACCOUNT}:{topic.name}-{aws_mock._suffix(topic.name, 7)}"
    for name, alarm in alarms(prod).items():
        assert alarm["alarmActions"] == [arn] and alarm["okActions"] == [arn], name
        assert alarm["treatMissingData"] in ("missing", "notBreaching", "breaching"), name
    found = alarms(prod)
    assert found["alb-no-healthy"]["treatMissingData"] == "breaching"
    assert found["alb-5xx"]["treatMissingData"] == "notBreaching"
    assert found["rds-storage"]["treatMissingData"] == "missing"


def test_the_topic_is_encrypted_with_a_key_cloudwatch_may_use(prod):
    topic = prod.named("aws:sns/topic:Topic", "dify-prod-alarms-topic").plain
    key = prod.named("aws:kms/key:Key", "dify-prod-alarms-topic").plain
    assert topic["kmsMasterKeyId"].startswith("arn:aws:kms:")
    statements = json.loads(key["policy"])["Statement"]
    cloudwatch = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch and set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    policy = json.loads(prod.named("aws:sns/topicPolicy:TopicPolicy", "dify-prod-alarms-topic").plain["policy"])
    assert policy["Statement"][0]["Action"] == "sns:Publish"
    assert policy["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": aws_mock.ACCOUNT}}


def test_the_email_is_subscribed_only_when_given(prod, prod_with_email):
    assert not prod.of_type(SUBSCRIPTION)
    (subscription,) = prod_with_email.of_type(SUBSCRIPTION)
    # email-validator's normal form: the domain lower-cased, the local part as written.
    assert subscription.plain["protocol"] == "email" and subscription.plain["endpoint"] == "Ops.Team@example.com"


def test_production_thresholds_follow_the_preset_and_the_budget(prod):
    found = alarms(prod)
    assert found["rds-cpu"]["threshold"] == 80 and found["rds-cpu"]["evaluationPeriods"] == 2
    limit = budget.rds_max_connections("db.m7g.xlarge")
    assert found["rds-connections"]["threshold"] == math.floor(limit * 0.9) - budget.RESERVED
    assert found["rds-storage"]["threshold"] == 100 * 2**30 // 10
    assert found["rds-memory"]["threshold"] == 16 * 2**30 // 10
    config = StackConfig.model_validate({**{k.split(":", 1)[1]: v for k, v in stack_config("prod")[0].items()}})
    assert found["cache-1-connections"]["threshold"] == redis_clients(config)
    assert found["alb-5xx"]["threshold"] == 2


def test_the_connection_threshold_moves_with_the_rds_class_and_the_size():
    bigger = alarms(run_program("prod", {"aws": {**aws_base(), "rdsInstanceClass": "db.m7g.2xlarge"}}))
    limit = budget.rds_max_connections("db.m7g.2xlarge")
    assert bigger["rds-connections"]["threshold"] == math.floor(limit * 0.9) - budget.RESERVED
    assert bigger["rds-memory"]["threshold"] == 32 * 2**30 // 10
    small = alarms(run_program("prod", {"size": "small"}))
    small_limit = budget.rds_max_connections("db.t4g.large")
    assert small["rds-connections"]["threshold"] == math.floor(small_limit * 0.9) - budget.RESERVED
    assert small["rds-cpu"]["threshold"] == 85 and small["rds-cpu"]["evaluationPeriods"] == 3
    assert small["rds-storage"]["threshold"] == 50 * 2**30 // 10
    assert small["cache-1-connections"]["threshold"] < alarms(captured("prod"))["cache-1-connections"]["threshold"]


def test_a_class_outside_the_table_alarms_on_what_dify_opens():
    run = run_program("prod", {"aws": {**aws_base(), "rdsInstanceClass": "db.x2g.xlarge"}})
    found = alarms(run)
    config = StackConfig.model_validate({**{k.split(":", 1)[1]: v for k, v in stack_config("prod")[0].items()},
                                         "aws": {**aws_base(), "rdsInstanceClass": "db.x2g.xlarge"}})
    assert found["rds-connections"]["threshold"] == budget.budget(config).total
    assert "rds-memory" not in found


def test_container_insights_only_when_asked_or_in_production(prod):
    (addon,) = observability(prod)
    assert addon["addonVersion"] == aws_mock.ADDON_VERSION
    assert json.loads(addon["configurationValues"]) == {"containerLogs": {"enabled": True}}
    role = [r for r in prod.of_type("aws:iam/role:Role") if r.name == "dify-prod-insights-agent"][0].plain
    trust = json.loads(role["assumeRolePolicy"])["Statement"][0]
    subjects = {v for k, v in trust["Condition"]["StringEquals"].items() if k.endswith(":sub")}
    assert subjects == {"system:serviceaccount:amazon-cloudwatch:cloudwatch-agent"}
    attachment = prod.named("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "dify-prod-insights-agent").plain
    assert attachment["policyArn"] == "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
    assert addon["serviceAccountRoleArn"].startswith("arn:aws:iam::")
    assert not observability(run_program("prod", {"size": "small"}))
    assert observability(run_program("prod", {"size": "small", "monitoring": {"containerLogs": True}}))
    assert not observability(run_program("prod", {"monitoring": {"containerLogs": False}}))


def test_every_log_group_keeps_the_retention_and_exists_before_its_writer(prod_with_email):
    run = prod_with_email
    groups = run.of_type(LOG_GROUP)
    names = {g.plain["name"] for g in groups}
    cluster = run.named("aws:eks/cluster:Cluster", "dify-prod-cluster-eks")
    assert cluster.plain["name"] == "dify-prod-cluster-eks"
    assert names == {"/aws/eks/dify-prod-cluster-eks/cluster"} | {
        f"/aws/containerinsights/dify-prod-cluster-eks/{g}" for g in ("application", "dataplane", "host", "performance")}
    assert all(g.plain["retentionInDays"] == 90 for g in groups)
    assert {"api", "audit", "authenticator"} <= set(cluster.plain["enabledClusterLogTypes"])
    control = run.named(LOG_GROUP, "dify-prod-cluster-control-plane-logs")
    assert control.urn in cluster.dependency_urns
    addon = [r for r in run.of_type(ADDON) if r.plain["addonName"] == OBSERVABILITY][0]
    assert {g.urn for g in groups if "containerinsights" in g.plain["name"]} <= addon.dependency_urns


def test_alarms_can_be_turned_off():
    run = run_program("prod", {"monitoring": {"alarms": False}})
    assert not run.of_type(ALARM) and not run.of_type("aws:sns/topic:Topic")
    assert "alarmTopicArn" not in run.outputs


def test_a_preview_before_the_alb_exists_declares_the_alarms_with_unknown_dimensions():
    run = run_program("prod", preview=True)
    assert "alb-unhealthy" in alarms(run)


def test_no_generated_secret_reaches_a_monitoring_resource(prod_with_email):
    run = prod_with_email
    ours = [r for r in run.resources if r.typ.startswith(("aws:cloudwatch", "aws:sns", "aws:kms"))
            or r.name.startswith(("dify-prod-insights", "dify-prod-alarms"))]
    text = json.dumps([r.plain for r in ours])
    assert ours and not [s for s in run.secrets if s in text]


# -- Alibaba Cloud --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def alicloud() -> Run:
    return run_program("alicloud", {"monitoring": {"alertEmail": "ops@example.com", "logRetentionDays": 180}})


def test_cloudmonitor_alarms_on_rds_tair_and_the_clb(alicloud):
    found = cms_alarms(alicloud)
    metrics = {(a["project"], a["metric"]) for a in found.values()}
    assert metrics == {
        ("acs_rds_dashboard", m) for m in ("cpu_usage", "mem_usage", "local_fs_size_usage", "conn_usgae")} | {
        ("acs_kvstore", m) for m in ("StandardCpuUsage", "StandardMemoryUsage", "StandardEvictedKeys",
                                     "StandardUsedConnection")} | {
        ("acs_slb_dashboard", m) for m in ("UnhealthyServerCount", "InstanceStatusCode5xx", "InstanceRt")}
    rds = json.loads(found["rds-cpu"]["metricDimensions"])
    assert rds == [{"instanceId": "dify-alicloud-postgres-rds-id"}]
    assert json.loads(found["clb-unhealthy"]["metricDimensions"]) == [{"instanceId": "dify-alicloud-entry-clb-id"}]
    group = alicloud.named("alicloud:cms/alarmContactGroup:AlarmContactGroup", "dify-alicloud-alarms-group").plain
    assert all(a["contactGroups"] == [group["alarmContactGroupName"]] for a in found.values())
    assert found["rds-cpu"]["escalationsCritical"]["threshold"] == "80"
    assert found["redis-connections"]["escalationsCritical"]["threshold"] == str(
        redis_clients(StackConfig.model_validate(
            {k.split(":", 1)[1]: v for k, v in stack_config("alicloud")[0].items()})))


def test_the_contact_comes_from_the_alert_email(alicloud):
    (contact,) = alicloud.of_type("alicloud:cms/alarmContact:AlarmContact")
    assert contact.plain["channelsMail"] == "ops@example.com"
    group = alicloud.named("alicloud:cms/alarmContactGroup:AlarmContactGroup", "dify-alicloud-alarms-group").plain
    assert group["contacts"] == [contact.plain["alarmContactName"]]
    bare = run_program("alicloud")
    assert not bare.of_type("alicloud:cms/alarmContact:AlarmContact")
    assert bare.named("alicloud:cms/alarmContactGroup:AlarmContactGroup", "dify-alicloud-alarms-group").plain.get(
        "contacts") in (None, [])
    named = run_program("alicloud", {"monitoring": {"alertEmail": "a@example.com", "alertContactName": "Dify on call"}})
    assert named.of_type("alicloud:cms/alarmContact:AlarmContact")[0].plain["alarmContactName"] == "Dify on call"


def test_layer7_clb_alarms_only_with_http_listeners():
    section = {k: v for k, v in stack_config("alicloud")[0][f"{PROJECT}:alicloud"].items()
               if k not in ("certificateId", "dnsZone")}
    plain = run_program("alicloud", {"alicloud": section})
    names = set(cms_alarms(plain))
    assert "clb-unhealthy" in names and not {"clb-5xx", "clb-latency"} & names


def test_container_logs_go_to_a_logstore_kept_the_retention(alicloud):
    (store,) = alicloud.of_type("alicloud:log/store:Store")
    assert store.plain["retentionPeriod"] == 180
    (project,) = alicloud.of_type("alicloud:log/project:Project")
    (addon,) = alicloud.of_type("alicloud:cs/kubernetesAddon:KubernetesAddon")
    assert addon.plain["name"] == "logtail-ds"
    assert json.loads(addon.plain["config"]) == {"sls_project_name": project.plain["projectName"]}
    (config,) = alicloud.of_type("kubernetes:log.alibabacloud.com/v1alpha1:AliyunLogConfig")
    spec = config.plain["spec"]
    assert spec["project"] == project.plain["projectName"] and spec["logstore"] == store.plain["logstoreName"]
    assert spec["lifeCycle"] == 180
    detail = spec["logtailConfig"]["inputDetail"]["plugin"]["inputs"][0]["detail"]
    assert detail["K8sNamespaceRegex"] == "^(dify|dify-sandbox)$"
    assert addon.urn in config.dependency_urns


def test_alicloud_logs_only_when_asked_or_in_production():
    dev = run_program("alicloud", {"size": "small"})
    assert not dev.of_type("alicloud:log/store:Store")
    assert cms_alarms(dev)


# -- Stacks without a cloud -----------------------------------------------------------------------

def test_the_docker_and_kubernetes_stacks_declare_no_cloud_monitoring():
    for stack in ("dev", "k8s"):
        run = captured(stack)
        assert not [r for r in run.resources if r.typ.startswith(("aws:", "alicloud:"))], stack


# -- Rejected config ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "stack, monitoring, key, hint",
    [
        ("prod", {"alertEmail": "ops at example"}, "monitoring.alertEmail", "not an e-mail address"),
        ("prod", {"logRetentionDays": 45}, "monitoring.logRetentionDays", "nearest: 30, 60"),
        ("prod", {"logRetentionDays": 0}, "monitoring.logRetentionDays", "greater than or equal to 1"),
        ("prod", {"alertContactName": "ops"}, "monitoring.alertContactName", "alicloud"),
        ("alicloud", {"logRetentionDays": 3653}, "monitoring.logRetentionDays", "3650"),
        ("alicloud", {"alertContactName": "x"}, "monitoring.alertContactName", "2 to 40"),
        ("alicloud", {"alertContactName": "Dify on call"}, "monitoring.alertContactName", "set monitoring.alertEmail"),
        ("prod", {"alarms": False, "alertEmail": "ops@example.com"}, "monitoring.alertEmail", "alarms is false"),
        ("dev", {"alertEmail": "ops@example.com"}, "monitoring.alertEmail", "cloud targets"),
        ("k8s", {"containerLogs": True}, "monitoring.containerLogs", "cloud targets"),
    ],
)
def test_wrong_monitoring_config_is_rejected_naming_the_key(stack, monitoring, key, hint):
    with pytest.raises(Exception) as raised:
        run_program(stack, overrides={"monitoring": monitoring})
    message = str(raised.value)
    assert key in message and hint in message, message


def test_every_cloudwatch_retention_is_accepted_and_sls_takes_for_ever():
    from stacks.cloud_monitoring import problems

    base = {k.split(":", 1)[1]: v for k, v in stack_config("prod")[0].items()}
    for days in CLOUDWATCH_RETENTION_DAYS:
        assert not problems(StackConfig.model_validate({**base, "monitoring": {"logRetentionDays": days}}))
    ali = {k.split(":", 1)[1]: v for k, v in stack_config("alicloud")[0].items()}
    assert not problems(StackConfig.model_validate({**ali, "monitoring": {"logRetentionDays": 3650}}))


# -- Changes --------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ("prod", "alicloud"))
def test_monitoring_changes_replace_nothing_that_holds_data_nor_the_cluster(stack):
    from tests.change_plan import cached_run, plan, stateful_losses

    runs = [cached_run(stack, overrides) for overrides in (
        {}, {"monitoring": {"alarms": False, "containerLogs": False}},
        {"monitoring": {"logRetentionDays": 365, "alertEmail": "ops@example.com", "containerLogs": True}})]
    clusters = ("aws:eks/cluster:Cluster", "alicloud:cs/managedKubernetes:ManagedKubernetes")
    for before, after in zip(runs, runs[1:]):
        for a, b in ((before, after), (after, before)):
            assert stateful_losses(a, b) == []
            assert not [step for step in plan(a, b)["replace"] if step[0] in clusters]


# -- The managed vector stores --------------------------------------------------------------------

OPENSEARCH_ALARMS = {"opensearch-red", "opensearch-yellow", "opensearch-storage", "opensearch-writes-blocked",
                     "opensearch-snapshot", "opensearch-cpu", "opensearch-jvm"}
ANALYTICDB_METRICS = {"node_cpu_used_percent", "node_mem_used_percent", "node_disk_used_percent",
                      "adbpg_master_cnt_unhealth"}


def opensearch_alarms(run: Run) -> dict[str, dict]:
    return {name: alarm for name, alarm in alarms(run).items() if name.startswith("opensearch-")}


def put_metric_alarm_request(name: str, alarm: dict) -> dict:
    """The PutMetricAlarm request CloudWatch receives for a declared single-metric alarm."""
    return {
        "AlarmName": name, "AlarmDescription": alarm["alarmDescription"], "ActionsEnabled": True,
        "AlarmActions": alarm["alarmActions"], "OKActions": alarm["okActions"],
        "MetricName": alarm["metricName"], "Namespace": alarm["namespace"], "Statistic": alarm["statistic"],
        "Dimensions": [{"Name": k, "Value": v} for k, v in alarm["dimensions"].items()],
        # Pulumi carries every number as a double; the provider sends these two as integers.
        "Period": int(alarm["period"]), "EvaluationPeriods": int(alarm["evaluationPeriods"]),
        "Threshold": float(alarm["threshold"]), "ComparisonOperator": alarm["comparisonOperator"],
        "TreatMissingData": alarm["treatMissingData"],
    }


@pytest.fixture(scope="module")
def prod_opensearch() -> Run:
    return run_program("prod", {"vectorStore": {"kind": "opensearch"}})


def test_opensearch_alarms_only_with_the_domain_and_the_alarms_on(prod, prod_opensearch):
    assert not opensearch_alarms(prod)
    assert set(opensearch_alarms(prod_opensearch)) == OPENSEARCH_ALARMS
    off = run_program("prod", {"vectorStore": {"kind": "opensearch"}, "monitoring": {"alarms": False}})
    assert off.of_type("aws:opensearch/domain:Domain") and not off.of_type(ALARM)


def test_opensearch_alarms_watch_the_domain_and_notify_the_topic(prod_opensearch):
    run = prod_opensearch
    (domain,) = run.of_type("aws:opensearch/domain:Domain")
    topic = run.named("aws:sns/topic:Topic", "dify-prod-alarms-topic")
    arn = f"arn:aws:sns:us-east-1:{aws_mock.ACCOUNT}:{topic.name}-{aws_mock._suffix(topic.name, 7)}"
    found = opensearch_alarms(run)
    metrics = {a["metricName"] for a in found.values()}
    assert metrics == {"ClusterStatus.red", "ClusterStatus.yellow", "FreeStorageSpace", "ClusterIndexWritesBlocked",
                       "AutomatedSnapshotFailure", "CPUUtilization", "JVMMemoryPressure"}
    for name, alarm in found.items():
        assert alarm["namespace"] == "AWS/ES", name
        assert alarm["dimensions"] == {"DomainName": domain.plain["domainName"], "ClientId": aws_mock.ACCOUNT}, name
        assert alarm["alarmActions"] == [arn] and alarm["okActions"] == [arn], name
        # The domain reports these every minute: a gap keeps the state.
        assert alarm["treatMissingData"] == "missing", name


def test_opensearch_alarms_are_requests_cloudwatch_accepts(prod_opensearch):
    from botocore.session import get_session
    from botocore.validate import ParamValidator

    model = get_session().get_service_model("cloudwatch").operation_model("PutMetricAlarm").input_shape
    for name, alarm in opensearch_alarms(prod_opensearch).items():
        request = put_metric_alarm_request(name, alarm)
        report = ParamValidator().validate(request, model)
        assert not report.has_errors(), report.generate_report()
        assert request["Statistic"] in model.members["Statistic"].enum
        assert request["ComparisonOperator"] in model.members["ComparisonOperator"].enum


def test_opensearch_thresholds_follow_the_preset_and_the_volume(prod_opensearch):
    found = opensearch_alarms(prod_opensearch)
    storage = found["opensearch-storage"]
    # MiB per node, the least-free node: a quarter of the production preset's 200 GiB volume.
    assert (storage["statistic"], storage["period"], storage["comparisonOperator"]) == (
        "Minimum", 60, "LessThanOrEqualToThreshold")
    assert storage["threshold"] == 200 * 1024 // 4
    assert found["opensearch-cpu"]["threshold"] == 80 and found["opensearch-cpu"]["evaluationPeriods"] == 2
    assert found["opensearch-jvm"]["threshold"] == 95 and found["opensearch-jvm"]["evaluationPeriods"] == 3
    assert found["opensearch-red"]["evaluationPeriods"] == 1 and found["opensearch-yellow"]["evaluationPeriods"] == 5
    assert found["opensearch-writes-blocked"]["period"] == 300
    # One data node cannot hold a replica (the cluster stays yellow): no yellow alarm there.
    dev = opensearch_alarms(run_program("prod", {"size": "dev", "vectorStore": {
        "kind": "opensearch", "opensearch": {"volumeGb": 30}}}))
    assert set(dev) == OPENSEARCH_ALARMS - {"opensearch-yellow"}
    assert dev["opensearch-storage"]["threshold"] == 30 * 1024 // 4
    assert dev["opensearch-cpu"]["threshold"] == 90 and dev["opensearch-cpu"]["evaluationPeriods"] == 6


def test_analyticdb_alarms_watch_the_instance_and_go_to_the_contact_group(alicloud):
    assert not {a["project"] for a in cms_alarms(alicloud).values()} & {"acs_hybriddb", "acs_ots"}
    run = run_program("alicloud", {"vectorStore": {"kind": "analyticdb"}})
    instance = run.named("alicloud:gpdb/instance:Instance", "dify-alicloud-vectors-instance")
    found = {n: a for n, a in cms_alarms(run).items() if a["project"] == "acs_hybriddb"}
    assert {a["metric"] for a in found.values()} == ANALYTICDB_METRICS
    group = run.named("alicloud:cms/alarmContactGroup:AlarmContactGroup", "dify-alicloud-alarms-group").plain
    for name, alarm in found.items():
        assert json.loads(alarm["metricDimensions"]) == [{"instanceId": instance.name + "-id"}], name
        assert alarm["contactGroups"] == [group["alarmContactGroupName"]], name
    critical = {a["metric"]: a["escalationsCritical"] for a in found.values()}
    assert critical["node_cpu_used_percent"] == {"statistics": "Average", "comparisonOperator": ">",
                                                 "threshold": "80", "times": 2}
    assert critical["node_disk_used_percent"]["threshold"] == "80"
    assert critical["node_disk_used_percent"]["statistics"] == "Maximum"
    assert critical["node_mem_used_percent"]["threshold"] == "90"
    assert critical["adbpg_master_cnt_unhealth"]["threshold"] == "0"
    small = run_program("alicloud", {"size": "small", "vectorStore": {"kind": "analyticdb"}})
    cpu = cms_alarms(small)["analyticdb-cpu"]["escalationsCritical"]
    assert (cpu["threshold"], cpu["times"]) == ("85", 3)


def test_tablestore_and_alarms_off_add_no_vector_store_alarm():
    ots = run_program("alicloud", {"vectorStore": {"kind": "tablestore"}})
    assert ots.of_type("alicloud:ots/instance:Instance")
    assert not {a["project"] for a in cms_alarms(ots).values()} & {"acs_hybriddb", "acs_ots"}
    off = run_program("alicloud", {"vectorStore": {"kind": "analyticdb"}, "monitoring": {"alarms": False}})
    assert off.of_type("alicloud:gpdb/instance:Instance") and not off.of_type(CMS_ALARM)
