"""`monitoring` on the cloud targets: what each cloud accepts, and the alarm thresholds the stack's size,
instance classes and connection budget give."""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING
from pydantic.alias_generators import to_camel

from components.alarm_levels import CACHE_MEMORY_PERCENT, OPENSEARCH_FREE_STORAGE_PERCENT, SENSITIVITY
from components.dify.concurrency import CONCURRENCY
from stacks import budget, pools
from stacks.config import StackConfig
from stacks.rules import KeyedError

if TYPE_CHECKING:
    from components.alicloud.monitoring import AlarmThresholds as AlicloudThresholds
    from components.aws.monitoring import AlarmThresholds as AwsThresholds

# The values CloudWatch Logs accepts for a log group's retention (PutRetentionPolicy).
CLOUDWATCH_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                             2557, 2922, 3288, 3653)
# SLS keeps a logstore's data 1-3650 days (3650: for ever).
SLS_MAX_RETENTION_DAYS = 3650
CLOUD_KEYS = ("alarms", "alert_email", "alert_contact_name", "log_retention_days", "container_logs")
ALICLOUD_ONLY = ("alert_contact_name",)
ALARM_RECIPIENT = ("alert_email", "alert_contact_name")
CONNECTION_HEADROOM_PERCENT = 90.0
# Connections a Redis client process holds besides one per concurrent request or task (broker, results,
# pub/sub, heartbeat).
REDIS_BASE_CONNECTIONS = 4


def _key(field: str) -> str:
    return f"monitoring.{to_camel(field)}"


def problems(config: StackConfig) -> list[KeyedError]:
    monitoring = config.monitoring
    given = [f for f in CLOUD_KEYS if f in monitoring.model_fields_set]
    if config.target not in ("aws", "alicloud"):
        return [KeyedError(_key(f), f"{_key(f)} applies to the cloud targets (aws, alicloud), not {config.target}; "
                                    "remove it") for f in given]
    found: list[KeyedError] = []
    if not monitoring.alarms:
        found += [KeyedError(_key(f), f"{_key(f)} receives the alarms, and monitoring.alarms is false; remove "
                                      f"{_key(f)} or turn the alarms on") for f in ALARM_RECIPIENT if f in given]
    days = monitoring.log_retention_days
    if config.target == "aws":
        found += [KeyedError(_key(f), f"{_key(f)} applies to target alicloud (a CloudMonitor contact); remove it")
                  for f in given if f in ALICLOUD_ONLY]
        if days not in CLOUDWATCH_RETENTION_DAYS:
            at = bisect.bisect(CLOUDWATCH_RETENTION_DAYS, days)
            near = ", ".join(str(d) for d in CLOUDWATCH_RETENTION_DAYS[max(at - 1, 0):at + 1])
            found.append(KeyedError("monitoring.logRetentionDays",
                                    f"CloudWatch Logs keeps logs for one of {', '.join(map(str, CLOUDWATCH_RETENTION_DAYS))} "
                                    f"days, not {days}; set monitoring.logRetentionDays to one of them (nearest: {near})"))
    else:
        if monitoring.alert_contact_name is not None and monitoring.alert_email is None:
            found.append(KeyedError("monitoring.alertContactName",
                                    "monitoring.alertContactName names the contact that receives monitoring.alertEmail; "
                                    "set monitoring.alertEmail too, or remove monitoring.alertContactName"))
        if days > SLS_MAX_RETENTION_DAYS:
            found.append(KeyedError(
                "monitoring.logRetentionDays",
                f"SLS keeps logs 1 to {SLS_MAX_RETENTION_DAYS} days ({SLS_MAX_RETENTION_DAYS}: for ever), not {days}; "
                f"set monitoring.logRetentionDays to {SLS_MAX_RETENTION_DAYS} or less"))
    return found


def container_logs(config: StackConfig) -> bool:
    """Container logs through the cloud's agent: as set, else on in production."""
    value = config.monitoring.container_logs
    return config.size == "production" if value is None else value


def database_connection_limit(config: StackConfig) -> int:
    """The connections above which the database alarms: the budget's usable share of max_connections
    (90 % less what PostgreSQL and the service reserve), or, where max_connections is unknown, what Dify
    opens at its replica maximums."""
    result = budget.budget(config)
    return result.usable if result.usable is not None else result.total


def redis_clients(config: StackConfig) -> int:
    """Redis connections Dify may hold at its replica maximums (+1 pod during a rollout): one per
    concurrent request (api, websocket) or task (worker), and a few per process besides."""
    c = CONCURRENCY[config.size]
    sizes = pools.sizing(config)
    per_pod = {
        "api": c.api_processes * (c.api_connections + REDIS_BASE_CONNECTIONS),
        "beat": REDIS_BASE_CONNECTIONS,
        "plugin-daemon": c.daemon_connections,
    }
    for pool in pools.worker_pools(config):
        per_pod[pool.service] = pool.concurrency + REDIS_BASE_CONNECTIONS
    features = config.dify.release.features
    if "collaboration" in features:
        per_pod["api-websocket"] = c.api_connections + REDIS_BASE_CONNECTIONS
    if "agent" in features:
        per_pod["agent-backend"] = c.api_connections
    total = 0
    for name, connections in per_pod.items():
        size = sizes.of(name)
        pods = 1 if name == "beat" else (size.max_replicas or size.replicas) + 1
        total += pods * connections
    return total


def aws_thresholds(config: StackConfig, instance_class: str, storage_gb: int) -> "AwsThresholds":
    # Imported here: the cloud SDKs load only for their own target.
    from components.aws.monitoring import AlarmThresholds

    level = SENSITIVITY[config.size]
    memory_gib = budget.rds_class_memory_gib(instance_class)
    return AlarmThresholds(
        cpu_percent=level.cpu_percent,
        periods=level.periods,
        error_rate_percent=level.error_rate_percent,
        response_time_seconds=level.response_time_seconds,
        cache_memory_percent=CACHE_MEMORY_PERCENT,
        # 10 % of the allocated storage (storage autoscaling grows it at that point).
        free_storage_bytes=storage_gb * 2**30 // 10,
        freeable_memory_bytes=None if memory_gib is None else int(memory_gib * 2**30) // 10,
        database_connections=database_connection_limit(config),
        cache_connections=redis_clients(config),
    )


def opensearch_free_storage_mib(volume_gb: int) -> int:
    """The free space (MiB, per data node, as CloudWatch reports it) below which the domain alarms."""
    return volume_gb * 1024 * OPENSEARCH_FREE_STORAGE_PERCENT // 100


def alicloud_thresholds(config: StackConfig, layer7: bool) -> "AlicloudThresholds":
    from components.alicloud.monitoring import AlarmThresholds

    level = SENSITIVITY[config.size]
    return AlarmThresholds(
        cpu_percent=level.cpu_percent,
        periods=level.periods,
        response_time_ms=int(level.response_time_seconds * 1000),
        errors_per_second=CLB_ERRORS_PER_SECOND[config.size],
        cache_memory_percent=CACHE_MEMORY_PERCENT,
        # ApsaraDB reports connections as a share of max_connections, which it sets per instance type (a
        # table the budget does not hold): the budget's 90 % headroom line.
        connection_percent=CONNECTION_HEADROOM_PERCENT,
        cache_connections=redis_clients(config),
        layer7=layer7,
    )


# CloudMonitor gives a CLB instance's 5xx as answers per second, with no request count to divide by:
# the alarm fires on a sustained rate.
CLB_ERRORS_PER_SECOND: dict[str, float] = {"dev": 1.0, "small": 1.0, "production": 2.0}
