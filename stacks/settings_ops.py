"""Day-2 sections of the stack config: `monitoring` (metrics, alerts, logs), `restorePoints` (a restore
point before every upgrade), `selfHosted` (how self-hosted data services run) and `vectorStore`
(where Dify keeps embeddings). Each class is extended by the module that reads it."""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field, model_validator
from pydantic.alias_generators import to_camel

from stacks import rules
from stacks.rules import KeyedError, Text
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
    zone loss (target kubernetes). With `highAvailability`, PostgreSQL runs as a CloudNativePG cluster
    and Redis as replication under Redis Sentinel (the OpsTree redis-operator).

    `installOperators`: install the operators (Helm) into `operatorNamespace`; false uses the ones the
    cluster already runs there. `postgresInstances`: PostgreSQL servers, one primary and streaming
    replicas, spread over zones; `synchronousReplicas`: replicas that must confirm each commit (0:
    asynchronous). `backups`: base backups and WAL archiving to the object store (the Barman Cloud
    plugin, which needs cert-manager on the cluster). `confirmDataModeSwitch`: the switch between
    single pods and HA starts empty data services; name it (`single-to-ha` or `ha-to-single`) to
    confirm that the data was migrated (README: "HA self-hosted data"). `redisInstances`: Redis
    servers (a master and replicas), `redisSentinels`: Sentinel processes (an odd number; a majority
    decides a failover); `redisOperatorNamespace` / `redisOperatorChartVersion`: where and which
    redis-operator chart is installed (with `installOperators`)."""

    high_availability: bool = False
    install_operators: bool = True
    operator_namespace: Text = "cnpg-system"
    cnpg_chart_version: Text = "0.29.0"
    barman_cloud_chart_version: Text = "0.7.0"
    postgres_instances: int = Field(default=3, ge=2, le=9, strict=True)
    synchronous_replicas: int = Field(default=1, ge=0, le=8, strict=True)
    pooler_instances: int = Field(default=2, ge=1, le=10, strict=True)
    backups: bool = True
    backup_retention: Text = "30d"
    # Where the instances and poolers reach the Kubernetes API server (NetworkPolicy ipBlocks, ports
    # 443 and 6443); unset: the cluster's ranges (kubernetes.isolation.clusterCidrs).
    api_server_cidrs: list[str] = Field(default_factory=list)
    redis_instances: int = Field(default=3, ge=2, le=9, strict=True)
    redis_sentinels: int = Field(default=3, ge=3, le=7, strict=True)
    redis_operator_namespace: Text = "redis-operator"
    redis_operator_chart_version: Text = "0.22.0"
    confirm_data_mode_switch: Optional[Literal["single-to-ha", "ha-to-single"]] = None

    @model_validator(mode="after")
    def _replicas(self) -> "SelfHostedSettings":
        if self.synchronous_replicas >= self.postgres_instances:
            raise KeyedError("selfHosted.synchronousReplicas",
                             f"selfHosted.synchronousReplicas must be below selfHosted.postgresInstances "
                             f"({self.postgres_instances}): the primary is not its own standby")
        if self.redis_sentinels % 2 == 0:
            raise KeyedError("selfHosted.redisSentinels",
                             f"selfHosted.redisSentinels must be odd (3, 5 or 7), not {self.redis_sentinels}: a "
                             "majority of them decides a failover, and an even count tolerates no more losses")
        if not re.fullmatch(r"[1-9][0-9]*[dwm]", self.backup_retention):
            raise KeyedError("selfHosted.backupRetention",
                             "selfHosted.backupRetention is a number of days, weeks or months, e.g. 30d, 4w, 6m")
        for text in self.api_server_cidrs:
            try:
                rules.cidr(text, "10.0.0.1/32", strict=True)
            except ValueError as error:
                raise KeyedError("selfHosted.apiServerCidrs", str(error)) from None
        unread = [name for name in type(self).model_fields
                  if name not in ("high_availability", "confirm_data_mode_switch") and name in self.model_fields_set]
        if unread and not self.high_availability:
            key = f"selfHosted.{to_camel(unread[0])}"
            raise KeyedError(key, f"{key} configures the replicated engines, which run only with "
                                  f"selfHosted.highAvailability true; set it or remove {key}")
        return self


class VectorStoreSettings(Strict):
    """Where Dify keeps embeddings."""

    kind: Literal["pgvector"] = "pgvector"
