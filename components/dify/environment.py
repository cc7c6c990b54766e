"""Dify's environment, built from the typed endpoints, with upstream's variable names.

Each function returns (plain, secret): plain values go into container env or ConfigMaps,
secret Outputs into Secrets. Names match upstream's docker-compose for the pinned release.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional
from urllib.parse import quote

import pulumi

from components.endpoints import ObjectStoreEndpoint, PostgresEndpoint, RedisEndpoint, VectorStoreEndpoint

Env = dict[str, pulumi.Input[str]]
SecretEnv = dict[str, pulumi.Output[str]]


def flag(on: bool) -> str:
    """A boolean as Dify's settings spell it."""
    return "true" if on else "false"


def _text(value: object) -> str:
    if isinstance(value, bool):
        return flag(value)
    return str(value)


def _str(value: pulumi.Input) -> pulumi.Input[str]:
    return pulumi.Output.from_input(value).apply(_text) if isinstance(value, pulumi.Output) else _text(value)


@dataclass(frozen=True)
class PublicUrls:
    """How users reach Dify. `explicit` is False when no domain is set: the web app then calls
    the api on its own origin, which works for whatever address the browser used."""

    base: str
    explicit: bool

    @property
    def install(self) -> str:
        return f"{self.base}/install"


def url_env(urls: PublicUrls, api_internal: str) -> Env:
    env: Env = {"FILES_URL": urls.base, "INTERNAL_FILES_URL": f"http://{api_internal}"}
    if urls.explicit:
        for key in ("CONSOLE_API_URL", "CONSOLE_WEB_URL", "SERVICE_API_URL", "APP_API_URL", "APP_WEB_URL"):
            env[key] = urls.base
        env["TRIGGER_URL"] = urls.base
    # Where plugin endpoints are shown to be reachable (nginx routes /e/ to the plugin daemon);
    # without a domain the base is relative. Upstream's default points at localhost:5002.
    env["ENDPOINT_URL_TEMPLATE"] = f"{urls.base}/e/{{hook_id}}"
    return env


POSTGRES_CA_PATH = "/etc/dify/tls/postgres-ca.crt"
VERIFYING_SSL_MODES = ("verify-ca", "verify-full")


def postgres_env(pg: PostgresEndpoint) -> tuple[Env, SecretEnv]:
    """The api's connection. Its SQLAlchemy URL takes libpq options from DB_EXTRAS (a query string)."""
    extras = f"sslmode={pg.ssl_mode}"
    if pg.ssl_mode in VERIFYING_SSL_MODES:
        extras += f"&sslrootcert={POSTGRES_CA_PATH}"
    plain: Env = {
        "DB_TYPE": "postgresql",
        "DB_USERNAME": _str(pg.user),
        "DB_HOST": _str(pg.host),
        "DB_PORT": _str(pg.port),
        "DB_DATABASE": pg.database,
        "DB_EXTRAS": extras,
    }
    return plain, {"DB_PASSWORD": pg.password}


def plugin_daemon_ssl_mode(libpq_mode: str) -> str:
    """The plugin daemon accepts only `disable` or `require` (and refuses to start otherwise); it
    cannot verify the server's certificate. Modes that may fall back to plain text map to disable."""
    return "disable" if libpq_mode in ("disable", "allow", "prefer") else "require"


def pgvector_env(pg: PostgresEndpoint) -> tuple[Env, SecretEnv]:
    if not pg.pgvector:
        raise ValueError("Dify's vector store here is pgvector: the PostgreSQL endpoint must have it enabled")
    plain: Env = {
        "VECTOR_STORE": "pgvector",
        "PGVECTOR_HOST": _str(pg.host),
        # Always set: the code default is 5433, not PostgreSQL's 5432.
        "PGVECTOR_PORT": _str(pg.port),
        "PGVECTOR_USER": _str(pg.user),
        "PGVECTOR_DATABASE": pg.vector_database or pg.database,
    }
    return plain, {"PGVECTOR_PASSWORD": pg.password}


# Every key a vector store sets starts with one of these.
VECTOR_STORE_PREFIXES = ("VECTOR_STORE", "PGVECTOR_", "OPENSEARCH_", "ANALYTICDB_", "TABLESTORE_", "QDRANT_",
                         "WEAVIATE_", "MILVUS_")


def vector_store_env(store: VectorStoreEndpoint) -> tuple[Env, SecretEnv]:
    """VECTOR_STORE and the engine's own keys (upstream's docker/envs/vectorstores/*.env.example)."""
    secret: SecretEnv = {}
    if store.engine == "opensearch":
        plain: Env = {"VECTOR_STORE": "opensearch", "OPENSEARCH_HOST": _str(store.host),
                      "OPENSEARCH_PORT": _str(store.port), "OPENSEARCH_SECURE": flag(store.tls),
                      "OPENSEARCH_VERIFY_CERTS": flag(store.tls)}
        if store.aws_region is not None:
            plain.update({"OPENSEARCH_AUTH_METHOD": "aws_managed_iam", "OPENSEARCH_AWS_REGION": store.aws_region,
                          "OPENSEARCH_AWS_SERVICE": "es"})
        else:
            plain.update({"OPENSEARCH_AUTH_METHOD": "basic", "OPENSEARCH_USER": _str(store.user)})
            secret["OPENSEARCH_PASSWORD"] = _secret(store.password)
        return plain, secret
    if store.engine == "analyticdb":
        # With ANALYTICDB_HOST set Dify talks SQL to the instance (no AccessKey, no OpenAPI).
        plain = {"VECTOR_STORE": "analyticdb", "ANALYTICDB_HOST": _str(store.host), "ANALYTICDB_PORT": _str(store.port),
                 "ANALYTICDB_ACCOUNT": _str(store.user), "ANALYTICDB_NAMESPACE": _str(store.namespace),
                 "ANALYTICDB_MIN_CONNECTION": "1", "ANALYTICDB_MAX_CONNECTION": str(store.max_connections)}
        return plain, {"ANALYTICDB_PASSWORD": _secret(store.password)}
    if store.engine == "tablestore":
        plain = {"VECTOR_STORE": "tablestore", "TABLESTORE_ENDPOINT": _str(store.url),
                 "TABLESTORE_INSTANCE_NAME": _str(store.instance_name)}
        return plain, {"TABLESTORE_ACCESS_KEY_ID": _secret(store.access_key_id),
                       "TABLESTORE_ACCESS_KEY_SECRET": _secret(store.access_key_secret)}
    if store.engine == "qdrant":
        return {"VECTOR_STORE": "qdrant", "QDRANT_URL": _str(store.url)}, {"QDRANT_API_KEY": _secret(store.api_key)}
    if store.engine == "weaviate":
        plain = {"VECTOR_STORE": "weaviate", "WEAVIATE_ENDPOINT": _str(store.url)}
        if store.grpc_endpoint:
            plain["WEAVIATE_GRPC_ENDPOINT"] = store.grpc_endpoint
        return plain, {"WEAVIATE_API_KEY": _secret(store.api_key)}
    if store.engine == "milvus":
        plain = {"VECTOR_STORE": "milvus", "MILVUS_URI": _str(store.url)}
        if store.database:
            plain["MILVUS_DATABASE"] = store.database
        if store.api_key is not None:
            return plain, {"MILVUS_TOKEN": _secret(store.api_key)}
        plain["MILVUS_USER"] = _str(store.user)
        return plain, {"MILVUS_PASSWORD": _secret(store.password)}
    raise ValueError(f"no environment for vector store {store.engine}: pgvector's comes from the PostgreSQL endpoint")


def _secret(value: object) -> pulumi.Output[str]:
    if value is None:
        raise ValueError("a vector store credential is missing")
    return pulumi.Output.secret(value)


def redis_url(redis: RedisEndpoint, db: int) -> pulumi.Output[str]:
    """A redis:// (rediss:// with TLS) URL with the credentials, as a secret."""
    scheme = "rediss" if redis.use_tls else "redis"
    user = quote(redis.username, safe="") if redis.username else ""

    def build(args: list) -> str:
        host, port, password = args
        # Must agree with REDIS_SSL_CERT_REQS (redis_env): both verify against the system CAs.
        suffix = "?ssl_cert_reqs=required" if redis.use_tls else ""
        return f"{scheme}://{user}:{quote(password, safe='')}@{host}:{int(port)}/{db}{suffix}"

    return pulumi.Output.secret(pulumi.Output.all(redis.host, redis.port, redis.password).apply(build))


def broker_url(redis: RedisEndpoint) -> pulumi.Output[str]:
    """redis://, or with Sentinel one `sentinel://` URL per sentinel joined by `;` (Celery's sentinel
    transport); the password in them is the master's, the sentinels' comes in CELERY_SENTINEL_PASSWORD."""
    if not redis.sentinels:
        return redis_url(redis, redis.broker_db)

    def build(password: str) -> str:
        return ";".join(f"sentinel://:{quote(password, safe='')}@{host}:{redis.sentinel_port}/{redis.broker_db}"
                        for host in redis.sentinels)

    return pulumi.Output.secret(redis.password.apply(build))


SENTINEL_SOCKET_TIMEOUT = "0.5"


def sentinel_env(redis: RedisEndpoint) -> tuple[Env, SecretEnv]:
    """REDIS_SENTINEL_* as both the api and the plugin daemon read them (empty without Sentinel)."""
    if not redis.sentinels:
        return {}, {}
    assert redis.master_name is not None
    plain: Env = {
        "REDIS_USE_SENTINEL": "true",
        "REDIS_SENTINELS": ",".join(f"{host}:{redis.sentinel_port}" for host in redis.sentinels),
        "REDIS_SENTINEL_SERVICE_NAME": redis.master_name,
        "REDIS_SENTINEL_SOCKET_TIMEOUT": SENTINEL_SOCKET_TIMEOUT,
    }
    secret: SecretEnv = {}
    if redis.sentinel_password is not None:
        secret["REDIS_SENTINEL_PASSWORD"] = redis.sentinel_password
    return plain, secret


def redis_env(redis: RedisEndpoint) -> tuple[Env, SecretEnv]:
    plain: Env = {
        "REDIS_HOST": _str(redis.host),
        "REDIS_PORT": _str(redis.port),
        "REDIS_USE_SSL": _text(redis.use_tls),
        "REDIS_DB": str(redis.db),
        "BROKER_USE_SSL": _text(redis.use_tls),
    }
    if redis.use_tls:
        plain["REDIS_SSL_CERT_REQS"] = "CERT_REQUIRED"
    if redis.username:
        plain["REDIS_USERNAME"] = redis.username
    secret: SecretEnv = {"REDIS_PASSWORD": redis.password, "CELERY_BROKER_URL": broker_url(redis)}
    sentinel_plain, sentinel_secret = sentinel_env(redis)
    plain.update(sentinel_plain)
    secret.update(sentinel_secret)
    if redis.sentinels:
        assert redis.master_name is not None
        plain.update({"CELERY_USE_SENTINEL": "true", "CELERY_SENTINEL_MASTER_NAME": redis.master_name,
                      "CELERY_SENTINEL_SOCKET_TIMEOUT": SENTINEL_SOCKET_TIMEOUT})
        if redis.sentinel_password is not None:
            secret["CELERY_SENTINEL_PASSWORD"] = redis.sentinel_password
    return plain, secret


def plugin_daemon_redis_env(redis: RedisEndpoint) -> tuple[Env, SecretEnv]:
    plain: Env = {
        "REDIS_HOST": _str(redis.host),
        "REDIS_PORT": _str(redis.port),
        "REDIS_USE_SSL": _text(redis.use_tls),
        "REDIS_DB": str(redis.db),
    }
    if redis.username:
        plain["REDIS_USERNAME"] = redis.username
    sentinel_plain, sentinel_secret = sentinel_env(redis)
    return {**plain, **sentinel_plain}, {"REDIS_PASSWORD": redis.password, **sentinel_secret}


def storage_env(store: ObjectStoreEndpoint) -> tuple[Env, SecretEnv]:
    """The api's STORAGE_TYPE and its S3_* or ALIYUN_OSS_* keys."""
    if store.kind == "oss":
        plain: Env = {
            "STORAGE_TYPE": "aliyun-oss",
            "ALIYUN_OSS_BUCKET_NAME": _str(store.bucket),
            "ALIYUN_OSS_ENDPOINT": _str(store.endpoint),
            "ALIYUN_OSS_REGION": _str(store.region),
            "ALIYUN_OSS_AUTH_VERSION": "v4",
            "ALIYUN_OSS_PATH": "",
        }
        return plain, _keys(store, "ALIYUN_OSS_ACCESS_KEY", "ALIYUN_OSS_SECRET_KEY")
    plain = {
        "STORAGE_TYPE": "s3",
        "S3_BUCKET_NAME": _str(store.bucket),
        "S3_REGION": _str(store.region),
        "S3_ENDPOINT": _str(store.endpoint) if store.endpoint is not None else "",
        "S3_USE_AWS_MANAGED_IAM": _text(store.use_workload_identity),
        # Self-hosted S3-compatible stores serve buckets by path, not as sub-domains.
        "S3_ADDRESS_STYLE": "path" if store.path_style else "auto",
    }
    return plain, _keys(store, "S3_ACCESS_KEY", "S3_SECRET_KEY")


def plugin_storage_env(store: ObjectStoreEndpoint) -> tuple[Env, SecretEnv]:
    """The plugin daemon keeps packages in the object store too, so replicas and rebuilt hosts agree."""
    if store.kind == "oss":
        plain: Env = {
            "PLUGIN_STORAGE_TYPE": "aliyun_oss",
            "PLUGIN_STORAGE_OSS_BUCKET": _str(store.plugin_bucket),
            "ALIYUN_OSS_ENDPOINT": _str(store.endpoint),
            "ALIYUN_OSS_REGION": _str(store.region),
            "ALIYUN_OSS_AUTH_VERSION": "v4",
            "ALIYUN_OSS_PATH": "",
        }
        # The daemon's names differ from the api's for the same credentials.
        return plain, _keys(store, "ALIYUN_OSS_ACCESS_KEY_ID", "ALIYUN_OSS_ACCESS_KEY_SECRET", plugin=True)
    plain = {
        "PLUGIN_STORAGE_TYPE": "aws_s3",
        "PLUGIN_STORAGE_OSS_BUCKET": _str(store.plugin_bucket),
        "S3_USE_AWS": _text(store.kind == "s3"),
        "S3_USE_AWS_MANAGED_IAM": _text(store.use_workload_identity),
        "S3_ENDPOINT": _str(store.endpoint) if store.endpoint is not None else "",
        "S3_USE_PATH_STYLE": _text(store.path_style),
        "AWS_REGION": _str(store.region),
    }
    return plain, _keys(store, "AWS_ACCESS_KEY", "AWS_SECRET_KEY", plugin=True)


def _keys(store: ObjectStoreEndpoint, access_name: str, secret_name: str, plugin: bool = False) -> SecretEnv:
    if store.use_workload_identity:
        return {}
    access, secret = store.access_key, store.secret_key
    if plugin and store.plugin_access_key is not None:
        access, secret = store.plugin_access_key, store.plugin_secret_key
    assert access is not None and secret is not None
    return {access_name: pulumi.Output.secret(access), secret_name: pulumi.Output.secret(secret)}


@dataclass(frozen=True)
class Telemetry:
    """Dify's own OpenTelemetry export (api/configs/observability/otel/otel_config.py): traces and metrics
    over OTLP to `endpoint` (a base URL; Dify appends /v1/traces and /v1/metrics unless the signal's own
    endpoint is given), `protocol` `http` or `grpc`; `api_key` is sent as a bearer token."""

    endpoint: str
    protocol: str = "http"
    sampling_rate: float = 0.1
    metric_export_interval_ms: int = 60000
    trace_endpoint: Optional[str] = None
    metric_endpoint: Optional[str] = None
    api_key: Optional[pulumi.Output[str]] = None


TELEMETRY_KEYS = frozenset({"ENABLE_OTEL", "OTEL_EXPORTER_TYPE", "OTLP_BASE_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
                            "OTEL_SAMPLING_RATE", "OTEL_METRIC_EXPORT_INTERVAL", "OTLP_TRACE_ENDPOINT",
                            "OTLP_METRIC_ENDPOINT", "OTLP_API_KEY"})


def telemetry_env(telemetry: Optional[Telemetry]) -> tuple[Env, SecretEnv]:
    """The keys of TELEMETRY_KEYS that `telemetry` sets (none without it)."""
    if telemetry is None:
        return {}, {}
    plain: Env = {
        "ENABLE_OTEL": "true",
        "OTEL_EXPORTER_TYPE": "otlp",
        "OTLP_BASE_ENDPOINT": telemetry.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": telemetry.protocol,
        "OTEL_SAMPLING_RATE": repr(float(telemetry.sampling_rate)),
        "OTEL_METRIC_EXPORT_INTERVAL": str(telemetry.metric_export_interval_ms),
    }
    if telemetry.trace_endpoint:
        plain["OTLP_TRACE_ENDPOINT"] = telemetry.trace_endpoint
    if telemetry.metric_endpoint:
        plain["OTLP_METRIC_ENDPOINT"] = telemetry.metric_endpoint
    return plain, ({"OTLP_API_KEY": telemetry.api_key} if telemetry.api_key is not None else {})
