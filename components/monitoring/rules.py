"""Alert rules (a PrometheusRule's `spec.groups`), with thresholds from the sizing preset and the
PostgreSQL connection budget.

Sources: kube-state-metrics (pods, Deployments, autoscalers, Jobs) and the kubelet's volume stats, as
kube-prometheus-stack collects them; the exporters of components.monitoring.exporters for Redis,
PostgreSQL, the Celery queues and nginx. nginx's 5xx ratio comes from its access log (the log
exporter counts responses by status), since stub_status has no status codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from components.monitoring.exporters import LOG_NAMESPACE, POSTGRES_EXPORTER, REDIS_EXPORTER


@dataclass(frozen=True)
class Thresholds:
    """When an alert fires. `urgency`: how long a condition must hold (`for`), shorter in production."""

    pending: str = "15m"
    # Sustained autoscaler ceiling.
    hpa_at_max: str = "30m"
    volume_full_ratio: float = 0.85
    redis_memory_ratio: float = 0.9
    # Waiting Celery tasks in all queues that the worker at its most replicas takes on at once.
    queue_backlog: int = 40
    error_ratio: float = 0.05
    # The budget's usable total (max_connections less headroom and reserved); None where unknown.
    postgres_connections: Optional[int] = None


@dataclass(frozen=True)
class Scope:
    """What the rules watch: the namespaces and workloads of one deployment."""

    namespaces: tuple[str, ...]
    instance: str
    deployments: tuple[str, ...]
    autoscaled: tuple[str, ...]
    jobs: tuple[str, ...]
    queues: tuple[str, ...]
    redis: bool = True
    postgres: bool = False
    nginx_log: bool = True


def _alert(name: str, expr: str, duration: str, severity: str, summary: str, description: str) -> dict:
    return {
        "alert": name,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity},
        "annotations": {"summary": summary, "description": description},
    }


def groups(scope: Scope, t: Thresholds) -> list[dict]:
    ns = "|".join(scope.namespaces)
    in_ns = f'namespace=~"{ns}"'
    deployments = "|".join(scope.deployments)
    workloads: list[dict] = [
        _alert("DifyPodCrashLooping",
               f'max by (namespace, pod, container) (kube_pod_container_status_waiting_reason{{{in_ns}, '
               f'reason="CrashLoopBackOff"}}) > 0',
               "5m", "critical", "{{ $labels.pod }} is crash-looping",
               "Container {{ $labels.container }} of {{ $labels.pod }} ({{ $labels.namespace }}) restarts over and "
               "over: read `kubectl logs --previous`."),
        _alert("DifyPodNotReady",
               f'sum by (namespace, pod) (kube_pod_status_phase{{{in_ns}, phase=~"Pending|Unknown"}}) > 0 '
               f'or (sum by (namespace, pod) (kube_pod_status_ready{{{in_ns}, condition="false"}}) > 0 '
               f'unless on (namespace, pod) kube_pod_status_phase{{{in_ns}, phase="Succeeded"}} > 0)',
               t.pending, "warning", "{{ $labels.pod }} is not ready",
               "Pod {{ $labels.pod }} ({{ $labels.namespace }}) has not been ready for " + t.pending + "."),
        _alert("DifyDeploymentBelowDesired",
               f'kube_deployment_status_replicas_available{{{in_ns}, deployment=~"{deployments}"}} '
               f'< kube_deployment_spec_replicas{{{in_ns}, deployment=~"{deployments}"}}',
               t.pending, "warning", "{{ $labels.deployment }} runs fewer replicas than desired",
               "Deployment {{ $labels.deployment }} has {{ $value }} available replicas, fewer than its spec, for "
               + t.pending + "."),
    ]
    if scope.autoscaled:
        hpas = "|".join(scope.autoscaled)
        workloads.append(_alert(
            "DifyAutoscalerAtMaximum",
            f'kube_horizontalpodautoscaler_status_current_replicas{{{in_ns}, horizontalpodautoscaler=~"{hpas}"}} '
            f'>= kube_horizontalpodautoscaler_spec_max_replicas{{{in_ns}, horizontalpodautoscaler=~"{hpas}"}}',
            t.hpa_at_max, "warning", "{{ $labels.horizontalpodautoscaler }} has been at its maximum for " + t.hpa_at_max,
            "The autoscaler cannot add replicas: raise the preset (`size`) or the cluster's capacity."))
    if scope.jobs:
        jobs = "|".join(f"{scope.instance}-{job}-[a-z0-9]+" for job in scope.jobs)
        workloads.append(_alert(
            "DifyMigrationFailed",
            f'max by (namespace, job_name) (kube_job_status_failed{{{in_ns}, job_name=~"{jobs}"}}) > 0',
            "0m", "critical", "The migration Job {{ $labels.job_name }} failed",
            "A database migration failed; api, worker and beat stay on the previous release until it succeeds. "
            "Read the Job's logs before running `pulumi up` again."))
    workloads.append(_alert(
        "DifyVolumeNearlyFull",
        f'kubelet_volume_stats_used_bytes{{{in_ns}}} / kubelet_volume_stats_capacity_bytes{{{in_ns}}} '
        f'> {t.volume_full_ratio}',
        "10m", "warning", "Volume {{ $labels.persistentvolumeclaim }} is {{ $value | humanizePercentage }} full",
        "Grow it (the preset's volume size, kubernetes.growVolumes) before it fills."))

    data: list[dict] = []
    if scope.redis:
        redis = f'{in_ns}, service="{REDIS_EXPORTER}"'
        data += [
            _alert("DifyRedisMemoryNearMax",
                   f'redis_memory_used_bytes{{{redis}}} / (redis_memory_max_bytes{{{redis}}} > 0) > {t.redis_memory_ratio}',
                   "10m", "warning", "Redis uses {{ $value | humanizePercentage }} of maxmemory",
                   "Near maxmemory Redis evicts keys or refuses writes (Celery tasks, sessions, locks)."),
            _alert("DifyRedisEvictingKeys",
                   f'increase(redis_evicted_keys_total{{{redis}}}[10m]) > 0',
                   "0m", "warning", "Redis is evicting keys",
                   "Redis evicted {{ $value }} keys in 10 minutes: Celery tasks or locks may be lost."),
            _alert("DifyRedisExporterDown", f'redis_up{{{redis}}} == 0', "5m", "warning",
                   "The Redis exporter cannot reach Redis", "redis_up is 0: Redis is down or refuses the exporter."),
        ]
        if scope.queues:
            backlog = f'sum(redis_key_size{{{redis}, key=~"{"|".join(scope.queues)}"}})'
            data.append(_alert(
                "DifyCeleryBacklogGrowing",
                f'{backlog} > {t.queue_backlog} and deriv({backlog}[15m:1m]) > 0',
                t.pending, "warning", "{{ $value }} Celery tasks are waiting and the backlog grows",
                f"More than {t.queue_backlog} tasks wait in the worker's queues and the number keeps rising: the "
                "worker cannot keep up (scale it, or look for a stuck task)."))
    if scope.postgres:
        pg = f'{in_ns}, service="{POSTGRES_EXPORTER}"'
        if t.postgres_connections is not None:
            data.append(_alert(
                "DifyPostgresConnectionsOverBudget",
                f'sum(pg_stat_activity_count{{{pg}}}) > {t.postgres_connections}',
                "5m", "warning", "PostgreSQL has {{ $value }} connections, over the budget",
                f"The connection budget allows {t.postgres_connections} (max_connections less headroom and reserved "
                "connections): more replicas or pools than planned are connected."))
        data += [
            _alert("DifyPostgresConnectionsNearMax",
                   f'sum by (namespace) (pg_stat_activity_count{{{pg}}}) '
                   f'/ max by (namespace) (pg_settings_max_connections{{{pg}}}) > 0.95',
                   "5m", "critical", "PostgreSQL is at {{ $value | humanizePercentage }} of max_connections",
                   "New connections will be refused soon."),
            _alert("DifyPostgresDown", f'pg_up{{{pg}}} == 0', "5m", "critical",
                   "The PostgreSQL exporter cannot reach PostgreSQL", "pg_up is 0."),
        ]

    entry = [
        _alert("DifyNginxDown", f'nginx_up{{{in_ns}}} == 0', "5m", "critical",
               "nginx's status endpoint does not answer", "nginx_up is 0 on {{ $labels.pod }}."),
    ]
    if scope.nginx_log:
        responses = f"{LOG_NAMESPACE}_http_response_count_total"
        entry.append(_alert(
            "DifyNginxErrorRatio",
            f'sum by (namespace) (rate({responses}{{{in_ns}, status=~"5.."}}[5m])) '
            f'/ sum by (namespace) (rate({responses}{{{in_ns}}}[5m])) > {t.error_ratio}',
            t.pending, "critical", "{{ $value | humanizePercentage }} of responses are 5xx",
            f"More than {t.error_ratio:.0%} of the requests nginx answered in 5 minutes failed with a 5xx status "
            "(from nginx's access log)."))
    named = (("dify.workloads", workloads), ("dify.data", data), ("dify.entry", entry))
    return [{"name": name, "rules": rules} for name, rules in named if rules]
