"""Day-2 sections of the stack config: `monitoring` (metrics, alerts, logs), `restorePoints` (a restore
point before every upgrade), `selfHosted` (how self-hosted data services run) and `vectorStore`
(where Dify keeps embeddings). Each class is extended by the module that reads it."""

from __future__ import annotations

import ipaddress
from typing import Literal, Optional
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from pydantic import Field, field_validator, model_validator

from stacks.rules import DNS_LABEL, KeyedError, SecretText, Text
from stacks.strict import Strict


class OtelSettings(Strict):
    """Dify's own OpenTelemetry export (traces and metrics of api and worker), as upstream's env spells it:
    ENABLE_OTEL, OTLP_BASE_ENDPOINT, OTLP_TRACE_ENDPOINT, OTLP_METRIC_ENDPOINT, OTLP_API_KEY (sent as a
    bearer token), OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SAMPLING_RATE, OTEL_METRIC_EXPORT_INTERVAL."""

    enabled: bool = False
    # The collector's base URL; Dify appends /v1/traces and /v1/metrics.
    endpoint: Optional[str] = None
    trace_endpoint: Optional[str] = None
    metric_endpoint: Optional[str] = None
    api_key: Optional[SecretText] = None
    protocol: Literal["http", "grpc"] = "http"
    sampling_rate: float = Field(default=0.1, ge=0.0, le=1.0)
    metric_export_interval_ms: int = Field(default=60000, ge=1000, le=3_600_000)
    # Kubernetes: the namespace of an in-cluster collector, which api and worker may then reach on the
    # endpoint's port (their NetworkPolicies keep them off the cluster's own addresses otherwise).
    collector_namespace: Optional[str] = None

    @field_validator("endpoint", "trace_endpoint", "metric_endpoint")
    @classmethod
    def _url(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("give the collector's URL, e.g. http://otel-collector.monitoring:4318")
        return value

    @field_validator("collector_namespace")
    @classmethod
    def _namespace(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else _dns_label(value)

    @model_validator(mode="after")
    def _endpoint_given(self) -> "OtelSettings":
        if self.enabled and self.endpoint is None:
            raise KeyedError("endpoint", "monitoring.otel.enabled needs the collector's base URL: set "
                                         "monitoring.otel.endpoint, e.g. http://otel-collector.monitoring:4318")
        return self

    def port(self) -> int:
        url = urlsplit(self.endpoint or "")
        return url.port or (443 if url.scheme == "https" else 4317 if self.protocol == "grpc" else 4318)


class MonitoringSettings(Strict):
    """Metrics, alerts and logs. `prometheusOperator`: ServiceMonitors, PodMonitors and PrometheusRules for
    a Prometheus Operator on the cluster (and the exporters they scrape); `labels`: added to them for its
    selectors; `prometheusNamespace` / `prometheusPodSelector`: the Prometheus pods that may scrape;
    `grafanaDashboards`: a dashboard ConfigMap for Grafana's sidecar. Docker: `exporters` publishes the
    exporters' scrape ports on `exportersBindAddress`."""

    prometheus_operator: bool = False
    labels: dict[str, Text] = Field(default_factory=dict)
    prometheus_namespace: str = "monitoring"
    prometheus_pod_selector: dict[str, Text] = Field(default_factory=dict)
    grafana_dashboards: bool = False
    otel: OtelSettings = Field(default_factory=OtelSettings)
    # Cloud targets (stacks/cloud_monitoring.py reads these): alarms on the databases, the cache and the
    # load balancer go to an SNS topic / a CloudMonitor contact group; `alertEmail` is subscribed to it.
    alarms: bool = True
    alert_email: Optional[str] = None
    # The CloudMonitor alarm contact's name (alicloud); unset: the stack's prefix.
    alert_contact_name: Optional[str] = None
    # CloudWatch Logs / SLS retention of every log group or logstore the program creates.
    log_retention_days: int = Field(default=30, ge=1, le=3653)
    # Cloud targets: container logs (and metrics) collected by the cloud's agent. Unset: on in production.
    container_logs: Optional[bool] = None
    # Docker: exporters whose scrape endpoints an existing Prometheus reads.
    exporters: bool = False
    exporters_bind_address: str = "127.0.0.1"

    @field_validator("prometheus_namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        return _dns_label(value)

    @field_validator("exporters_bind_address")
    @classmethod
    def _ip(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("give an IP address of the Docker host, e.g. 127.0.0.1 (the default) or the address "
                             "of the interface your Prometheus scrapes from") from None
        return value

    @field_validator("alert_email")
    @classmethod
    def _email(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        try:
            # Syntax only: no DNS lookup while the program runs.
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as error:
            raise ValueError(f"{value!r} is not an e-mail address ({error}); give one such as ops@example.com") from None

    @field_validator("alert_contact_name")
    @classmethod
    def _contact_name(cls, value: Optional[str]) -> Optional[str]:
        # CloudMonitor: 2-40 characters.
        if value is not None and not 2 <= len(value.strip()) <= 40:
            raise ValueError("give 2 to 40 characters (CloudMonitor's limit for a contact name)")
        return value if value is None else value.strip()

    def target_problems(self, target: str) -> list[KeyedError]:
        """Keys that do nothing on `target`."""
        problems = []
        if target == "docker":
            for key, given in (("prometheusOperator", self.prometheus_operator),
                               ("grafanaDashboards", self.grafana_dashboards)):
                if given:
                    problems.append(KeyedError(f"monitoring.{key}", "needs a Prometheus Operator on a cluster; on "
                                               "target docker set monitoring.exporters instead"))
        elif self.exporters:
            problems.append(KeyedError("monitoring.exporters", f"is for target docker; on {target} set "
                                       "monitoring.prometheusOperator (the exporters come with it)"))
        if self.grafana_dashboards and not self.prometheus_operator and target != "docker":
            problems.append(KeyedError("monitoring.grafanaDashboards", "charts the metrics the Prometheus Operator "
                                       "objects collect; set monitoring.prometheusOperator too"))
        return problems


def _dns_label(value: str) -> str:
    if not DNS_LABEL.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes namespace name (lowercase letters, digits and '-')")
    return value


class RestorePointSettings(Strict):
    """A restore point of the database(s) before every migration (first deploy and each dify.version)."""

    enabled: bool = True
    keep: int = Field(default=3, ge=1, le=50)


class SelfHostedSettings(Strict):
    """Self-hosted data services: single pods (dev, small) or replicated engines that survive a node or
    zone loss."""

    high_availability: bool = False


class VectorStoreSettings(Strict):
    """Where Dify keeps embeddings."""

    kind: Literal["pgvector"] = "pgvector"
