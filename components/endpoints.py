"""The typed endpoints every backend of a data service hands out. Dify consumes only these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import pulumi

ObjectStoreKind = Literal["s3", "oss", "s3-compatible"]


@dataclass(frozen=True)
class PostgresEndpoint:
    host: pulumi.Input[str]
    port: pulumi.Input[int]
    user: pulumi.Input[str]
    password: pulumi.Output[str]
    database: str
    plugin_database: str
    pgvector: bool = True
    # libpq's sslmode; verify-ca and verify-full check the server against `ca_certificate` (PEM).
    ssl_mode: str = "disable"
    ca_certificate: Optional[pulumi.Input[str]] = None
    # pgvector's own database on the server; None: `database`.
    vector_database: Optional[str] = None

    @property
    def databases(self) -> tuple[str, ...]:
        """Every database Dify keeps on the server (what a restore point dumps)."""
        return (self.database, self.plugin_database) + ((self.vector_database,) if self.vector_database else ())


@dataclass(frozen=True)
class RedisEndpoint:
    host: pulumi.Input[str]
    port: pulumi.Input[int]
    password: pulumi.Output[str]
    username: Optional[str] = None
    use_tls: bool = False
    db: int = 0
    broker_db: int = 1
    agent_db: int = 2
    # Redis Sentinel: the sentinels' host names, the master group they watch and their password. Set,
    # Sentinel-aware clients ask them for the master; `host` is then an address that follows the
    # master (for the clients that cannot ask).
    sentinels: tuple[str, ...] = ()
    sentinel_port: int = 26379
    master_name: Optional[str] = None
    sentinel_password: Optional[pulumi.Output[str]] = None

    def __post_init__(self) -> None:
        if self.sentinels and not self.master_name:
            raise ValueError("a Redis behind Sentinel needs the master group's name")


@dataclass(frozen=True)
class ObjectStoreEndpoint:
    """A bucket for Dify's files and one for plugin packages (they may be the same bucket).

    With `use_workload_identity` the pods' cloud identity grants access and no keys are set.
    `endpoint` is None for AWS S3 itself; `path_style` is for self-hosted S3-compatible stores.
    """

    kind: ObjectStoreKind
    bucket: pulumi.Input[str]
    plugin_bucket: pulumi.Input[str]
    region: pulumi.Input[str]
    endpoint: Optional[pulumi.Input[str]] = None
    access_key: Optional[pulumi.Output[str]] = None
    secret_key: Optional[pulumi.Output[str]] = None
    use_workload_identity: bool = False
    path_style: bool = False
    # The plugin daemon's own key pair (it runs third-party code); None: it uses the one above.
    plugin_access_key: Optional[pulumi.Output[str]] = None
    plugin_secret_key: Optional[pulumi.Output[str]] = None

    def __post_init__(self) -> None:
        if not self.use_workload_identity and (self.access_key is None or self.secret_key is None):
            raise ValueError("an object store without workload identity needs an access key and secret key")
        if self.kind == "oss" and self.endpoint is None:
            raise ValueError("an OSS endpoint is required")


VectorEngine = Literal["pgvector", "opensearch", "analyticdb", "tablestore", "qdrant", "weaviate", "milvus"]


@dataclass(frozen=True)
class VectorStoreEndpoint:
    """Where Dify keeps embeddings; `engine` is Dify's VECTOR_STORE. pgvector lives in the PostgreSQL
    endpoint and needs nothing here. `url` is the store's address (http(s)://host:port) for the engines
    Dify reaches by URL; `host`/`port` the connection of OpenSearch and AnalyticDB. `aws_region`:
    OpenSearch signs its requests with the pods' IAM role (IRSA) instead of a password."""

    engine: VectorEngine
    host: Optional[pulumi.Input[str]] = None
    port: Optional[pulumi.Input[int]] = None
    url: Optional[pulumi.Input[str]] = None
    tls: bool = True
    user: Optional[pulumi.Input[str]] = None
    password: Optional[pulumi.Output[str]] = None
    api_key: Optional[pulumi.Output[str]] = None
    aws_region: Optional[str] = None
    # AnalyticDB's schema; TableStore's instance; Milvus's database; Weaviate's gRPC host:port.
    namespace: Optional[pulumi.Input[str]] = None
    instance_name: Optional[pulumi.Input[str]] = None
    database: Optional[str] = None
    grpc_endpoint: Optional[str] = None
    access_key_id: Optional[pulumi.Output[str]] = None
    access_key_secret: Optional[pulumi.Output[str]] = None
    max_connections: int = 5


@dataclass(frozen=True)
class DataEndpoints:
    postgres: PostgresEndpoint
    redis: RedisEndpoint
    object_store: ObjectStoreEndpoint
    # None: pgvector in `postgres`.
    vector_store: Optional[VectorStoreEndpoint] = None
