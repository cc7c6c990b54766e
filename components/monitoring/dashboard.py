"""A Grafana dashboard (JSON model) for the signals the alert rules watch, for Grafana's dashboard
sidecar (kube-prometheus-stack: ConfigMaps labelled `grafana_dashboard: "1"`)."""

from __future__ import annotations

import json

from components.monitoring.exporters import LOG_NAMESPACE, POSTGRES_EXPORTER, REDIS_EXPORTER
from components.monitoring.rules import Scope

UID = "dify-overview"


def _panel(index: int, title: str, targets: list[tuple[str, str]], unit: str = "short") -> dict:
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
                    for i, (expr, legend) in enumerate(targets)],
    }


def dashboard(scope: Scope, title: str) -> str:
    ns = f'namespace=~"{"|".join(scope.namespaces)}"'
    redis = f'{ns}, service="{REDIS_EXPORTER}"'
    pg = f'{ns}, service="{POSTGRES_EXPORTER}"'
    responses = f"{LOG_NAMESPACE}_http_response_count_total"
    specs: list[tuple[str, list[tuple[str, str]], str]] = [
        ("Pods not ready", [(f'sum by (pod) (kube_pod_status_ready{{{ns}, condition="false"}})', "{{pod}}")], "short"),
        ("Container restarts (1h)",
         [(f"sum by (pod) (increase(kube_pod_container_status_restarts_total{{{ns}}}[1h]))", "{{pod}}")], "short"),
        ("Deployment replicas: available / desired",
         [(f"kube_deployment_status_replicas_available{{{ns}}}", "{{deployment}} available"),
          (f"kube_deployment_spec_replicas{{{ns}}}", "{{deployment}} desired")], "short"),
        ("Autoscalers: current / maximum",
         [(f"kube_horizontalpodautoscaler_status_current_replicas{{{ns}}}", "{{horizontalpodautoscaler}} current"),
          (f"kube_horizontalpodautoscaler_spec_max_replicas{{{ns}}}", "{{horizontalpodautoscaler}} max")], "short"),
        ("Volumes used", [(f"kubelet_volume_stats_used_bytes{{{ns}}} / kubelet_volume_stats_capacity_bytes{{{ns}}}",
                           "{{persistentvolumeclaim}}")], "percentunit"),
        ("nginx requests per second",
         [(f"sum(rate(nginx_http_requests_total{{{ns}}}[5m]))", "requests"),
          (f"sum(nginx_connections_active{{{ns}}})", "active connections")], "short"),
    ]
    if scope.nginx_log:
        specs.append(("nginx 5xx ratio", [(f'sum(rate({responses}{{{ns}, status=~"5.."}}[5m])) '
                                          f'/ sum(rate({responses}{{{ns}}}[5m]))', "5xx")], "percentunit"))
    if scope.redis:
        specs.append(("Redis memory / maxmemory",
                      [(f"redis_memory_used_bytes{{{redis}}}", "used"), (f"redis_memory_max_bytes{{{redis}}}", "max")],
                      "bytes"))
        specs.append(("Redis evictions per second", [(f"rate(redis_evicted_keys_total{{{redis}}}[5m])", "evicted")],
                      "short"))
        if scope.queues:
            specs.append(("Celery queue backlog",
                          [(f'redis_key_size{{{redis}, key=~"{"|".join(scope.queues)}"}} > 0', "{{key}}")], "short"))
    if scope.postgres:
        specs.append(("PostgreSQL connections",
                      [(f"sum by (state) (pg_stat_activity_count{{{pg}}})", "{{state}}"),
                       (f"max(pg_settings_max_connections{{{pg}}})", "max_connections")], "short"))
    model = {
        "uid": UID,
        "title": title,
        "tags": ["dify"],
        "timezone": "browser",
        "schemaVersion": 39,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus",
                                 "label": "Data source"}]},
        "panels": [_panel(i, title_, targets, unit) for i, (title_, targets, unit) in enumerate(specs)],
    }
    return json.dumps(model, indent=2, sort_keys=True)
