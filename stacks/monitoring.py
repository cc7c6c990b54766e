"""`monitoring` config translated into the monitoring components' arguments (components.monitoring)."""

from __future__ import annotations

from typing import Optional

import pulumi

from components.dify.environment import Telemetry
from components.endpoints import DataEndpoints
from components.kubernetes.security import BASELINE, RESTRICTED
from components.kubernetes_runtime import KubernetesRuntime
from components.monitoring.exporters import Exporters
from components.monitoring.kubernetes import MonitoringArgs, OtelCollector
from components.monitoring.rules import Scope, Thresholds
from components.workload import ServiceSpec
from stacks import budget, pools
from stacks.config import StackConfig

# Services that run Dify's api code and so export OpenTelemetry.
OTEL_CLIENTS = ("api", "worker", "api-websocket")
# How long a condition holds before it alerts, and the 5xx share that alerts, per preset.
_PENDING = {"dev": "15m", "small": "10m", "production": "5m"}
_ERROR_RATIO = {"dev": 0.1, "small": 0.05, "production": 0.02}


def telemetry(config: StackConfig) -> Optional[Telemetry]:
    otel = config.monitoring.otel
    if not otel.enabled or otel.endpoint is None:
        return None
    return Telemetry(
        endpoint=otel.endpoint, protocol=otel.protocol, sampling_rate=otel.sampling_rate,
        metric_export_interval_ms=otel.metric_export_interval_ms,
        trace_endpoint=otel.trace_endpoint, metric_endpoint=otel.metric_endpoint,
        api_key=pulumi.Output.secret(otel.api_key.get_secret_value()) if otel.api_key is not None else None,
    )


def collector(config: StackConfig) -> Optional[OtelCollector]:
    otel = config.monitoring.otel
    if not otel.enabled or otel.collector_namespace is None:
        return None
    return OtelCollector(otel.collector_namespace, otel.port(), otel_clients(config))


def otel_clients(config: StackConfig) -> tuple[str, ...]:
    """The services that run Dify's api code (every worker pool among them) and so export OpenTelemetry."""
    return tuple(dict.fromkeys(name for client in OTEL_CLIENTS
                               for name in (pools.worker_services(config) if client == "worker" else (client,))))


def exporters(config: StackConfig, endpoints: DataEndpoints, sidecars: bool) -> Optional[Exporters]:
    """The exporters this stack runs, or None when monitoring is off for its target."""
    wanted = config.monitoring.exporters if config.target == "docker" else config.monitoring.prometheus_operator
    if not wanted:
        return None
    release = config.dify.release
    return Exporters(
        sidecars=sidecars,
        postgres=endpoints.postgres if config.postgres.mode == "self-hosted" else None,
        redis=endpoints.redis,
        queues=release.worker_queues,
        daemon_metrics=release.daemon_metrics,
        registry_mirror=config.registry.mirror,
    )


def thresholds(config: StackConfig) -> Thresholds:
    size = config.size
    sizes = pools.sizing(config)
    # What every pool at its most replicas takes on at once.
    backlog = sum(pool.concurrency * (sizes.of(pool.service).max_replicas or sizes.of(pool.service).replicas)
                  for pool in pools.worker_pools(config))
    return Thresholds(
        pending=_PENDING[size],
        queue_backlog=backlog,
        error_ratio=_ERROR_RATIO[size],
        postgres_connections=budget.budget(config).usable,
    )


def cluster_args(config: StackConfig, runtime: KubernetesRuntime, specs: dict[str, ServiceSpec],
                 found: Exporters) -> MonitoringArgs:
    served = [s for s in specs.values() if not s.run_once]
    stateful = {"postgres", "redis", "object-store"}
    deployments = tuple(sorted(s.name for s in served if s.name not in stateful))
    preset = pools.sizing(config)
    autoscaled = tuple(sorted(s.name for s in served if preset.of(s.name).autoscaled and not s.singleton))
    jobs = tuple(sorted(s.name for s in specs.values() if s.run_once))
    monitoring = config.monitoring
    return MonitoringArgs(
        scope=Scope(
            namespaces=(runtime.namespace_names[RESTRICTED], runtime.namespace_names[BASELINE]),
            instance=runtime.prefix, deployments=deployments, autoscaled=autoscaled, jobs=jobs,
            queues=found.queues, redis=found.redis is not None, postgres=found.postgres is not None,
            nginx_log=found.sidecars,
        ),
        thresholds=thresholds(config),
        labels=dict(monitoring.labels),
        prometheus_namespace=monitoring.prometheus_namespace,
        prometheus_pods=dict(monitoring.prometheus_pod_selector),
        dashboards=monitoring.grafana_dashboards,
    )
