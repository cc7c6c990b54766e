"""Prometheus Operator objects for a deployment on a cluster (monitoring.coreos.com/v1):

- a ServiceMonitor for each workload whose metrics port is on its Service (the exporters, the plugin
  daemon), a PodMonitor for each whose metrics come from sidecars (nginx's exporters), every replica
  scraped;
- NetworkPolicies that let the Prometheus pods (by namespace and, optionally, pod labels) in on those
  ports, and nothing else;
- a PrometheusRule with the alerts of components.monitoring.rules;
- optionally a ConfigMap holding a Grafana dashboard, for Grafana's dashboard sidecar.
Every object carries `labels`, which the Operator's selectors (e.g. kube-prometheus-stack's `release`)
match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes_runtime import KubernetesRuntime
from components.monitoring import dashboard, rules
from components.workload import ServiceSpec

API_VERSION = "monitoring.coreos.com/v1"
SCRAPE_INTERVAL = "30s"


@dataclass(frozen=True)
class OtelCollector:
    """An OpenTelemetry collector in the cluster that `clients` (api, worker...) send to on `port`."""

    namespace: str
    port: int
    clients: tuple[str, ...]


@dataclass(frozen=True)
class MonitoringArgs:
    scope: rules.Scope
    thresholds: rules.Thresholds
    labels: dict[str, str] = field(default_factory=dict)
    prometheus_namespace: str = "monitoring"
    prometheus_pods: dict[str, str] = field(default_factory=dict)
    dashboards: bool = False


class ClusterMonitoring(pulumi.ComponentResource):
    """What a Prometheus Operator needs to scrape and alert on the workloads of `runtime`."""

    def __init__(self, name: str, runtime: KubernetesRuntime, specs: dict[str, ServiceSpec], args: MonitoringArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:monitoring:ClusterMonitoring", name, None, opts)
        self.runtime = runtime
        self.labels = {**runtime.labels, **args.labels}
        child = pulumi.ResourceOptions(parent=self, provider=runtime.provider)
        self.monitors: list[k8s.apiextensions.CustomResource] = []
        prometheus: dict = {"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": args.prometheus_namespace}}}
        if args.prometheus_pods:
            prometheus["podSelector"] = {"matchLabels": dict(args.prometheus_pods)}

        for spec in specs.values():
            if not spec.scrape:
                continue
            selector = runtime.selector(spec)
            on_service = {p.name for p in spec.ports}
            by_pod = any(s.port not in on_service for s in spec.scrape)
            kind = "PodMonitor" if by_pod else "ServiceMonitor"
            endpoints = [{"port": s.port, "path": s.path, "interval": SCRAPE_INTERVAL} for s in spec.scrape]
            self.monitors.append(k8s.apiextensions.CustomResource(
                f"{name}-{spec.name}-{kind.lower()}",
                api_version=API_VERSION, kind=kind,
                metadata=self._meta(spec.name),
                spec={
                    "selector": {"matchLabels": selector},
                    "namespaceSelector": {"matchNames": [runtime.namespace_names[runtime.placement.get(
                        spec.name, "restricted")]]},
                    ("podMetricsEndpoints" if by_pod else "endpoints"): endpoints,
                },
                opts=child,
            ))
            if runtime.network_policies:
                runtime.policy(f"prometheus-{spec.name}", {
                    "podSelector": {"matchLabels": selector},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": [prometheus],
                                 "ports": [{"protocol": "TCP", "port": n} for n in sorted({s.number for s in spec.scrape})]}],
                }, parent=self, level=runtime.placement.get(spec.name))

        self.rule = k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version=API_VERSION, kind="PrometheusRule",
            metadata=self._meta("dify"),
            spec={"groups": rules.groups(args.scope, args.thresholds)},
            opts=child,
        )
        if args.dashboards:
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard",
                metadata=self._meta("dify-dashboard", {"grafana_dashboard": "1"}),
                data={"dify.json": dashboard.dashboard(args.scope, f"Dify ({runtime.prefix})")},
                opts=child,
            )
        self.register_outputs({})

    def _meta(self, object_name: str, extra: Optional[dict[str, str]] = None) -> dict:
        return {"name": object_name, "namespace": self.runtime.namespace, "labels": {**self.labels, **(extra or {})}}


def otel_egress(runtime: KubernetesRuntime, specs: dict[str, ServiceSpec], collector: OtelCollector) -> None:
    """The exporting workloads may also reach the collector's namespace on its OTLP port."""
    if not runtime.network_policies:
        return
    for client in collector.clients:
        if client in specs:
            runtime.policy(f"{client}-otel", {
                "podSelector": {"matchLabels": runtime.selector(specs[client])},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": collector.namespace}}}],
                    "ports": [{"protocol": "TCP", "port": collector.port}]}],
            })
