"""Day-2 sections of the stack config: `monitoring` (metrics, alerts, logs), `restorePoints` (a restore
point before every upgrade), `selfHosted` (how self-hosted data services run) and `vectorStore`
(where Dify keeps embeddings). Each class is extended by the module that reads it."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from stacks.rules import Text
from stacks.strict import Strict


class OtelSettings(Strict):
    """Dify's own OpenTelemetry export (traces and metrics of api and worker)."""

    enabled: bool = False
    endpoint: Optional[str] = None


class MonitoringSettings(Strict):
    """Metrics, alerts and logs. `prometheusOperator`: ServiceMonitors, PodMonitors and PrometheusRules for
    a Prometheus Operator on the cluster; `labels`: added to them for its selectors."""

    prometheus_operator: bool = False
    labels: dict[str, Text] = Field(default_factory=dict)
    grafana_dashboards: bool = False
    otel: OtelSettings = Field(default_factory=OtelSettings)
    # Cloud targets: alarms go to a topic / contact group; this address is subscribed to it.
    alert_email: Optional[str] = None
    log_retention_days: int = Field(default=30, ge=1, le=3653)
    # Cloud targets: container logs (and metrics) collected by the cloud's agent. Unset: on in production.
    container_logs: Optional[bool] = None
    # Docker: exporters whose scrape endpoints an existing Prometheus reads.
    exporters: bool = False


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
