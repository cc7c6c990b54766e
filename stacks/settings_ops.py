"""Day-2 sections of the stack config: `monitoring` (metrics, alerts, logs), `restorePoints` (a restore
point before every upgrade), `selfHosted` (how self-hosted data services run) and `vectorStore`
(where Dify keeps embeddings). Each class is extended by the module that reads it."""

from __future__ import annotations

import ipaddress
from typing import Literal, Optional

from pydantic import Field, field_validator

from stacks import rules
from stacks.rules import KeyedError, SecretText, Text
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


class VectorStoreSettings(Strict):
    """Where Dify keeps embeddings. `pgvector` (default): the PostgreSQL Dify already uses; `opensearch`
    (aws), `analyticdb` and `tablestore` (alicloud): a managed service created here; `external`: a
    Qdrant, Weaviate, Milvus or OpenSearch you run (`engine`, `url`, `apiKey` or `user`/`password`)."""

    kind: VectorStoreKind = "pgvector"
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
