"""How touchy the cloud alarms are, per `size` preset: production pages early and on short breaches,
dev only on long, high ones. The capacity thresholds (storage, memory, connections) come from what the
stack sizes (instance classes, storage, the connection budget), not from this table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sensitivity:
    cpu_percent: float
    # Consecutive 5-minute periods a resource must breach before its alarm fires.
    periods: int
    # 5xx answers, as a share of the requests the load balancer served.
    error_rate_percent: float
    # Median time to the first response byte (streamed LLM answers make upper percentiles long by nature).
    response_time_seconds: float


SENSITIVITY: dict[str, Sensitivity] = {
    "dev": Sensitivity(cpu_percent=90, periods=6, error_rate_percent=10, response_time_seconds=5),
    "small": Sensitivity(cpu_percent=85, periods=3, error_rate_percent=5, response_time_seconds=3),
    "production": Sensitivity(cpu_percent=80, periods=2, error_rate_percent=2, response_time_seconds=2),
}
# A cache that never evicts (maxmemory-policy noeviction) refuses writes when full: warn well before.
CACHE_MEMORY_PERCENT = 80.0
DATABASE_MEMORY_PERCENT = 90.0
DISK_USED_PERCENT = 90.0
# OpenSearch: the heap share at which AWS recommends alarming (out-of-memory errors follow), and the
# share of a node's volume below which its free storage alarms.
JVM_MEMORY_PRESSURE_PERCENT = 95.0
OPENSEARCH_FREE_STORAGE_PERCENT = 25
# AnalyticDB for PostgreSQL locks an instance whose storage reaches 90 %: alarm at Alibaba's 80 %.
ANALYTICDB_DISK_USED_PERCENT = 80.0
