"""Day-2 sections of the stack config: `monitoring` (metrics, alerts, logs), `restorePoints` (a restore
point before every upgrade), `selfHosted` (how self-hosted data services run) and `vectorStore`
(where Dify keeps embeddings). Each class is extended by the module that reads it."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal, Optional
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from pydantic import Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from stacks import rules
from stacks.rules import DNS_LABEL, KeyedError, NonEmptyText, SecretText, Text
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
    zone loss (the cluster targets). With `highAvailability`, PostgreSQL runs as a CloudNativePG cluster
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
    redis-operator chart is installed (with `installOperators`). The object store runs as distributed
    SeaweedFS (its own Helm chart, `objectStoreChartVersion`, in Dify's namespace): 3 masters (Raft),
    `objectStoreVolumeServers` volume servers, one group per zone of `objectStoreZones` with a copy of
    every object in a second zone (without zones: on a second server), `objectStoreFilers` filers and
    `objectStoreGateways` S3 gateways; `objectStoreVolumeSize`: each volume server's claim."""

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
    object_store_chart_version: Text = "4.44.0"
    # The zones (values of the nodes' topology.kubernetes.io/zone) the volume servers run in, one group
    # each; two or more keep a copy of every object outside any one zone.
    object_store_zones: list[Text] = Field(default_factory=list)
    object_store_volume_servers: int = Field(default=3, ge=2, le=30, strict=True)
    object_store_filers: int = Field(default=2, ge=2, le=9, strict=True)
    object_store_gateways: int = Field(default=2, ge=2, le=20, strict=True)
    # Each volume server's claim: fixed at install (a StatefulSet's claim template does not change), so
    # not from `size`.
    object_store_volume_size: Text = Field(default="50Gi", pattern=r"^[1-9][0-9]*(Mi|Gi|Ti)$")
    confirm_data_mode_switch: Optional[Literal["single-to-ha", "ha-to-single"]] = None

    @model_validator(mode="after")
    def _replicas(self) -> "SelfHostedSettings":
        if self.synchronous_replicas >= self.postgres_instances:
            raise KeyedError("selfHosted.synchronousReplicas",
                             f"selfHosted.synchronousReplicas must be below selfHosted.postgresInstances "
                             f"({self.postgres_instances}): the primary is not its own standby")
        if len(set(self.object_store_zones)) != len(self.object_store_zones):
            raise KeyedError("selfHosted.objectStoreZones", "selfHosted.objectStoreZones lists a zone twice")
        if self.object_store_zones and self.object_store_volume_servers < len(self.object_store_zones):
            raise KeyedError("selfHosted.objectStoreVolumeServers",
                             f"selfHosted.objectStoreVolumeServers must be at least the number of "
                             f"selfHosted.objectStoreZones ({len(self.object_store_zones)}): one group per zone")
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


ExternalEngine = Literal["qdrant", "weaviate", "milvus", "opensearch"]
VectorStoreKind = Literal["pgvector", "opensearch", "analyticdb", "tablestore", "external"]
# The kinds a target can create; `pgvector` and `external` run everywhere.
MANAGED_KINDS = {"opensearch": "aws", "analyticdb": "alicloud", "tablestore": "alicloud"}


class OpenSearchSettings(Strict):
    """The Amazon OpenSearch Service domain (target aws); unset values come from `size`."""

    engine_version: Text = "OpenSearch_2.19"
    instance_type: Optional[Text] = None
    instance_count: Optional[int] = Field(default=None, ge=1, le=80)
    volume_gb: Optional[int] = Field(default=None, ge=10, le=16384)


class AnalyticdbSettings(Strict):
    """The AnalyticDB for PostgreSQL instance (target alicloud); unset values come from `size`."""

    engine_version: Text = "7.0"
    instance_spec: Optional[Text] = None
    segment_nodes: Optional[int] = Field(default=None, ge=2, le=512)
    storage_gb: Optional[int] = Field(default=None, ge=50, le=4000)
    namespace: Text = "dify"


class TablestoreSettings(Strict):
    """The TableStore (OTS) instance (target alicloud)."""

    instance_type: Literal["HighPerformance", "Capacity"] = "HighPerformance"


class PgvectorSettings(Strict):
    """pgvector's place on Dify's PostgreSQL server. `database` unset: Dify's own database (postgres.database);
    set: a database of its own on the same server, created with the `vector` extension (except on
    postgres.mode external, where it must exist)."""

    database: Optional[NonEmptyText] = None


class VectorStoreSettings(Strict):
    """Where Dify keeps embeddings. `pgvector` (default): the PostgreSQL Dify already uses; `opensearch`
    (aws), `analyticdb` and `tablestore` (alicloud): a managed service created here; `external`: a
    Qdrant, Weaviate, Milvus or OpenSearch you run (`engine`, `url`, `apiKey` or `user`/`password`)."""

    kind: VectorStoreKind = "pgvector"
    pgvector: PgvectorSettings = Field(default_factory=PgvectorSettings)
    opensearch: OpenSearchSettings = Field(default_factory=OpenSearchSettings)
    analyticdb: AnalyticdbSettings = Field(default_factory=AnalyticdbSettings)
    tablestore: TablestoreSettings = Field(default_factory=TablestoreSettings)
    # kind external
    engine: Optional[ExternalEngine] = None
    url: Optional[Text] = None
    api_key: Optional[SecretText] = None
    user: Optional[Text] = None
    password: Optional[SecretText] = None
    # Milvus: the database; Weaviate: its gRPC endpoint (host:port).
    database: Optional[Text] = None
    grpc_endpoint: Optional[Text] = None
    # Where an external store's host resolves (NetworkPolicies allow addresses only); unset: the host if
    # it is an address, else public addresses on its port.
    cidrs: list[Text] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _url(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else rules.http_url(value, "https://qdrant.example.com:6333")

    @field_validator("cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                raise ValueError(f"{cidr!r} is not an address range; write it as 10.0.12.0/24") from None
        return value

    def problems(self, target: str) -> list[KeyedError]:
        """What this target cannot do with these settings (each error names its key and the fix)."""
        found: list[KeyedError] = []
        home = MANAGED_KINDS.get(self.kind)
        if home is not None and home != target:
            offered = ", ".join(["pgvector", "external"] + [k for k, t in MANAGED_KINDS.items() if t == target])
            found.append(KeyedError("vectorStore.kind", f"{self.kind} is created on target {home}, not {target}; "
                                                        f"on {target} set vectorStore.kind to one of {offered}"))
        external_keys = {"engine": self.engine, "url": self.url, "apiKey": self.api_key, "user": self.user,
                         "password": self.password, "database": self.database, "grpcEndpoint": self.grpc_endpoint}
        if self.kind != "pgvector" and self.pgvector.model_fields_set:
            found.append(KeyedError("vectorStore.pgvector.database",
                                    f"applies to vectorStore.kind pgvector, not {self.kind}; remove it "
                                    "(`pulumi config rm --path vectorStore.pgvector`)"))
        if self.kind != "external":
            given = [k for k, v in external_keys.items() if v is not None] + (["cidrs"] if self.cidrs else [])
            found += [KeyedError(f"vectorStore.{k}", f"applies to vectorStore.kind external only; remove it "
                                                     f"(`pulumi config rm --path vectorStore.{k}`)") for k in given]
            return found
        return found + self._external_problems()

    def _external_problems(self) -> list[KeyedError]:
        found: list[KeyedError] = []
        if self.engine is None:
            found.append(KeyedError("vectorStore.engine", "vectorStore.kind external needs the engine: "
                                                          "`pulumi config set --path vectorStore.engine qdrant` "
                                                          "(qdrant, weaviate, milvus or opensearch)"))
        if self.url is None:
            found.append(KeyedError("vectorStore.url", "vectorStore.kind external needs the store's URL, e.g. "
                                                       "`pulumi config set --path vectorStore.url "
                                                       "https://qdrant.example.com:6333`"))
        login = self.user is not None and self.password is not None
        if self.engine in ("qdrant", "weaviate") and self.api_key is None:
            found.append(KeyedError("vectorStore.apiKey", f"{self.engine} needs its API key: `pulumi config set "
                                                          "--secret --path vectorStore.apiKey <key>`"))
        if self.engine == "milvus" and self.api_key is None and not login:
            found.append(KeyedError("vectorStore.apiKey", "milvus needs a token (`pulumi config set --secret --path "
                                                          "vectorStore.apiKey <token>`) or vectorStore.user and "
                                                          "vectorStore.password"))
        if self.engine == "opensearch" and not login:
            found.append(KeyedError("vectorStore.password", "opensearch needs vectorStore.user and `pulumi config "
                                                            "set --secret --path vectorStore.password <password>`"))
        if self.engine in ("qdrant", "weaviate") and (self.user is not None or self.password is not None):
            found.append(KeyedError("vectorStore.user", f"{self.engine} authenticates with vectorStore.apiKey only; "
                                                        "remove vectorStore.user and vectorStore.password"))
        if self.engine == "opensearch" and self.api_key is not None:
            found.append(KeyedError("vectorStore.apiKey", "opensearch authenticates with vectorStore.user and "
                                                          "vectorStore.password; remove vectorStore.apiKey"))
        if self.database is not None and self.engine != "milvus":
            found.append(KeyedError("vectorStore.database", "applies to engine milvus only; remove it"))
        if self.grpc_endpoint is not None and self.engine != "weaviate":
            found.append(KeyedError("vectorStore.grpcEndpoint", "applies to engine weaviate only; remove it"))
        return found
