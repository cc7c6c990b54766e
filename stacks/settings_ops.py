"""Day-2 sections of the stack config: `monitoring` (metrics, alerts, logs), `restorePoints` (a restore
point before every upgrade), `selfHosted` (how self-hosted data services run) and `vectorStore`
(where Dify keeps embeddings). Each class is extended by the module that reads it."""

from __future__ import annotations

from typing import Literal, Optional

from email_validator import EmailNotValidError, validate_email
from pydantic import Field, field_validator

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
