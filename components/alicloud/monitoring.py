"""CloudMonitor and SLS for the Alibaba Cloud target.

- Alarm rules (`cms.Alarm`) on ApsaraDB RDS for PostgreSQL (`acs_rds_dashboard`: cpu_usage, mem_usage,
  local_fs_size_usage, conn_usgae, as Alibaba spells it), Tair/Redis standard (`acs_kvstore`:
  StandardCpuUsage, StandardMemoryUsage, StandardEvictedKeys, StandardUsedConnection) and the CLB the
  program creates (`acs_slb_dashboard`: UnhealthyServerCount; with HTTP/HTTPS listeners, i.e. a
  certificate, also InstanceStatusCode5xx and InstanceRt), and, when it is the vector store, AnalyticDB
  for PostgreSQL in elastic storage mode (`acs_hybriddb`: node_cpu_used_percent, node_mem_used_percent,
  node_disk_used_percent, adbpg_master_cnt_unhealth), to one alarm contact group. Metric names from
  CloudMonitor's metric tables for those namespaces. TableStore gets none: its instance metrics
  (`acs_ots`) are consumption (CU, VCU, requests, traffic) of an instance without a capacity to fill.
- Container logs: ACK's `logtail-ds` add-on writing to an SLS project of this stack, and an
  `AliyunLogConfig` (the add-on's CRD) collecting the stdout and stderr of Dify's two namespaces into one
  logstore kept `retention_days`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from components.alicloud.sdk import alicloud

from components.alarm_levels import ANALYTICDB_DISK_USED_PERCENT, DATABASE_MEMORY_PERCENT, DISK_USED_PERCENT
from components.alicloud.common import cloud_name

LOG_ADDON = "logtail-ds"
LOGSTORE = "dify-containers"
PERIOD = 300


@dataclass(frozen=True)
class AlarmThresholds:
    cpu_percent: float
    periods: int
    response_time_ms: int
    errors_per_second: float
    cache_memory_percent: float
    connection_percent: float
    cache_connections: int
    # The CLB's listeners are HTTP/HTTPS (layer 7 metrics exist only then).
    layer7: bool


def dimensions(instance_id: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.from_input(instance_id).apply(lambda i: json.dumps([{"instanceId": i}]))


class CloudMonitorAlarms(pulumi.ComponentResource):
    def __init__(self, name: str, *, thresholds: AlarmThresholds, contact_name: str, alert_email: Optional[str],
                 rds_instance_id: Optional[pulumi.Input[str]] = None,
                 kvstore_instance_id: Optional[pulumi.Input[str]] = None,
                 load_balancer_id: Optional[pulumi.Input[str]] = None,
                 analyticdb_instance_id: Optional[pulumi.Input[str]] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:alicloud:CloudMonitorAlarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.thresholds = thresholds
        contacts: list[pulumi.Output[str]] = []
        if alert_email:
            contact = alicloud.cms.AlarmContact(
                f"{name}-contact", alarm_contact_name=contact_name, describe=f"{name}: Dify alarms",
                channels_mail=alert_email, lang="en", opts=child)
            contacts.append(contact.alarm_contact_name)
        self.group = alicloud.cms.AlarmContactGroup(
            f"{name}-group", alarm_contact_group_name=cloud_name(name, 40), describe=f"{name}: Dify alarms",
            contacts=contacts, opts=child)
        self.alarms: list[alicloud.cms.Alarm] = []
        t = thresholds
        if rds_instance_id is not None:
            for metric, threshold, what in (
                    ("cpu_usage", t.cpu_percent, "cpu"), ("mem_usage", DATABASE_MEMORY_PERCENT, "memory"),
                    ("local_fs_size_usage", DISK_USED_PERCENT, "disk"),
                    ("conn_usgae", t.connection_percent, "connections")):
                self._alarm(f"{name}-rds-{what}", "acs_rds_dashboard", metric, rds_instance_id, threshold,
                            times=t.periods)
        if kvstore_instance_id is not None:
            self._alarm(f"{name}-redis-cpu", "acs_kvstore", "StandardCpuUsage", kvstore_instance_id, t.cpu_percent,
                        times=t.periods)
            self._alarm(f"{name}-redis-memory", "acs_kvstore", "StandardMemoryUsage", kvstore_instance_id,
                        t.cache_memory_percent, times=t.periods)
            self._alarm(f"{name}-redis-evictions", "acs_kvstore", "StandardEvictedKeys", kvstore_instance_id, 0,
                        times=1)
            self._alarm(f"{name}-redis-connections", "acs_kvstore", "StandardUsedConnection", kvstore_instance_id,
                        t.cache_connections, times=t.periods)
        if load_balancer_id is not None:
            self._alarm(f"{name}-clb-unhealthy", "acs_slb_dashboard", "UnhealthyServerCount", load_balancer_id, 0,
                        times=5, period=60)
            if t.layer7:
                self._alarm(f"{name}-clb-5xx", "acs_slb_dashboard", "InstanceStatusCode5xx", load_balancer_id,
                            t.errors_per_second, times=t.periods, statistics="Average")
                self._alarm(f"{name}-clb-latency", "acs_slb_dashboard", "InstanceRt", load_balancer_id,
                            t.response_time_ms, times=t.periods, statistics="Average")
        if analyticdb_instance_id is not None:
            # Node metrics (also keyed by instance_component and hostname): the rules name the instance.
            for metric, threshold, what, statistics in (
                    ("node_cpu_used_percent", t.cpu_percent, "cpu", "Average"),
                    ("node_mem_used_percent", DATABASE_MEMORY_PERCENT, "memory", "Average"),
                    ("node_disk_used_percent", ANALYTICDB_DISK_USED_PERCENT, "disk", "Maximum")):
                self._alarm(f"{name}-analyticdb-{what}", "acs_hybriddb", metric, analyticdb_instance_id, threshold,
                            times=t.periods, statistics=statistics)
            self._alarm(f"{name}-analyticdb-unhealthy", "acs_hybriddb", "adbpg_master_cnt_unhealth",
                        analyticdb_instance_id, 0, times=3, period=60)
        self.register_outputs({"contactGroup": self.group.alarm_contact_group_name})

    def _alarm(self, name: str, project: str, metric: str, instance_id: pulumi.Input[str], threshold: float, *,
               times: int, period: int = PERIOD, statistics: str = "Maximum") -> None:
        self.alarms.append(alicloud.cms.Alarm(
            name, name=name, project=project, metric=metric, metric_dimensions=dimensions(instance_id),
            period=period, contact_groups=[self.group.alarm_contact_group_name],
            escalations_critical={"statistics": statistics, "comparison_operator": ">",
                                  "threshold": f"{threshold:g}", "times": times},
            enabled=True, opts=pulumi.ResourceOptions(parent=self)))


class ContainerLogs(pulumi.ComponentResource):
    """An SLS project and logstore, ACK's log add-on pointed at the project, and a collection config."""

    def __init__(self, name: str, *, cluster_id: pulumi.Input[str], retention_days: int,
                 namespaces: Sequence[pulumi.Input[str]], provider: k8s.Provider,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:alicloud:ContainerLogs", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Project names are unique across SLS in a region: the stack's prefix and a random suffix.
        suffix = random.RandomString(f"{name}-suffix", length=6, special=False, upper=False, opts=child)
        self.project = alicloud.log.Project(
            f"{name}-project", project_name=suffix.result.apply(lambda s: f"{cloud_name(name, 28)}-{s}"),
            description=f"{name}: Dify container logs", opts=child)
        self.store = alicloud.log.Store(
            f"{name}-store", project_name=self.project.project_name, logstore_name=LOGSTORE,
            retention_period=retention_days, shard_count=2, auto_split=True, max_split_shard_count=16,
            append_meta=True, opts=child)
        self.addon = alicloud.cs.KubernetesAddon(
            f"{name}-addon", cluster_id=cluster_id, name=LOG_ADDON,
            config=self.project.project_name.apply(lambda p: json.dumps({"sls_project_name": p})), opts=child)
        pattern = pulumi.Output.all(*namespaces).apply(lambda names: "^(" + "|".join(names) + ")$")
        k8s.apiextensions.CustomResource(
            f"{name}-stdout", api_version="log.alibabacloud.com/v1alpha1", kind="AliyunLogConfig",
            metadata={"name": "dify-stdout"},
            spec={
                "project": self.project.project_name,
                "logstore": self.store.logstore_name,
                "lifeCycle": retention_days,
                "logtailConfig": {
                    "inputType": "plugin",
                    "configName": "dify-stdout",
                    "inputDetail": {"plugin": {"inputs": [{
                        "type": "service_docker_stdout",
                        "detail": {"Stdout": True, "Stderr": True, "K8sNamespaceRegex": pattern},
                    }]}},
                },
            },
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.addon, self.store]))
        self.register_outputs({"project": self.project.project_name, "logstore": self.store.logstore_name})
