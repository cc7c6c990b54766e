"""The exporters, as workload data.

What Dify's own services expose at the pinned releases: the plugin daemon (0.6.x, Dify 1.16) serves
Prometheus metrics at `/metrics/` on its service port (PROMETHEUS_ENABLED, on by default); 0.5.x
(Dify 1.13) has none. The api, worker and beat serve none (they push OTLP when ENABLE_OTEL is on), nor
does the code sandbox. So metrics come from exporters:
- nginx: stub_status (connections, requests) read by nginx-prometheus-exporter, and on Kubernetes the
  access log (via syslog to the pod's loopback) read by prometheus-nginxlog-exporter, which counts
  responses by status code: the source of the 5xx ratio;
- Redis: redis_exporter at the Redis Dify uses (self-hosted, managed or external, TLS and AUTH as its
  endpoint says), which also reports the length of each Celery queue in the broker database;
- PostgreSQL: postgres-exporter at the self-hosted PostgreSQL.
Credentials reach the exporters as secret env only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import pulumi

from components import images
from components.dify import nginx
from components.endpoints import PostgresEndpoint, RedisEndpoint
from components.workload import DATA_NET, POSTGRES, REDIS, Call, ConfigFile, HealthCheck, Port, Scrape, ServiceSpec, Sidecar

NGINX_EXPORTER_PORT, NGINX_LOG_EXPORTER_PORT = 9113, 4040
REDIS_EXPORTER_PORT, POSTGRES_EXPORTER_PORT = 9121, 9187
SYSLOG_ADDRESS = "127.0.0.1:5531"
NGINX_LOG_CONFIG = "/etc/prometheus-nginxlog-exporter/config.hcl"
# The log exporter's metric prefix: dify_nginx_http_response_count_total{status=...}.
LOG_NAMESPACE = "dify_nginx"
REDIS_EXPORTER, POSTGRES_EXPORTER, NGINX_EXPORTER = "redis-exporter", "postgres-exporter", "nginx-exporter"
# The plugin daemon's metrics path (gin serves the group's root with a trailing slash).
PLUGIN_DAEMON_METRICS = "/metrics/"


# The exporter images on Docker Hub (a registry mirror serves them); the log exporter's is on quay.io.
HUB_IMAGES = (images.NGINX_EXPORTER, images.REDIS_EXPORTER, images.POSTGRES_EXPORTER)


@dataclass(frozen=True)
class Exporters:
    """Which exporters a deployment runs. `sidecars`: nginx's exporters in its pod (Kubernetes) rather
    than an exporter container beside it (Docker, where the status server listens on its own port)."""

    sidecars: bool
    postgres: Optional[PostgresEndpoint] = None
    redis: Optional[RedisEndpoint] = None
    queues: tuple[str, ...] = ()
    daemon_metrics: bool = False
    registry_mirror: Optional[str] = None

    def nginx_status(self) -> nginx.Status:
        if self.sidecars:
            return nginx.Status(listen=f"127.0.0.1:{nginx.STATUS_PORT}", access_syslog=SYSLOG_ADDRESS)
        return nginx.Status(listen=str(nginx.STATUS_PORT))

    def image(self, ref: str) -> str:
        return images.image_ref(ref, self.registry_mirror)


def _log_exporter_config() -> str:
    fmt = ('$remote_addr - $remote_user [$time_local] \\"$request\\" $status $body_bytes_sent '
           '\\"$http_referer\\" \\"$http_user_agent\\" \\"$http_x_forwarded_for\\" $request_time')
    return (
        f"listen {{\n  port = {NGINX_LOG_EXPORTER_PORT}\n  address = \"0.0.0.0\"\n  metrics_endpoint = \"/metrics\"\n}}\n\n"
        f"namespace \"{LOG_NAMESPACE}\" {{\n  metrics_override = {{ prefix = \"{LOG_NAMESPACE}\" }}\n"
        f"  format = \"{fmt}\"\n"
        f"  source {{\n    syslog {{\n      listen_address = \"udp://{SYSLOG_ADDRESS}\"\n      format = \"rfc3164\"\n"
        "      tags = [\"nginx\"]\n    }\n  }\n}\n"
    )


def with_nginx_exporters(spec: ServiceSpec, exporters: Exporters) -> ServiceSpec:
    """nginx with its two exporters in the pod, reading stub_status and the access log on the loopback."""
    status = f"http://127.0.0.1:{nginx.STATUS_PORT}{nginx.STATUS_PATH}"
    sidecars = (
        Sidecar("nginx-exporter", exporters.image(images.NGINX_EXPORTER),
                args=(f"--nginx.scrape-uri={status}", f"--web.listen-address=:{NGINX_EXPORTER_PORT}"),
                ports=(Port("nginx-metrics", NGINX_EXPORTER_PORT),),
                health=HealthCheck(port=NGINX_EXPORTER_PORT, path="/metrics")),
        Sidecar("nginx-log-exporter", exporters.image(images.NGINX_LOG_EXPORTER),
                args=("-config-file", NGINX_LOG_CONFIG),
                ports=(Port("log-metrics", NGINX_LOG_EXPORTER_PORT),), files=(NGINX_LOG_CONFIG,),
                health=HealthCheck(port=NGINX_LOG_EXPORTER_PORT, path="/metrics")),
    )
    return replace(
        spec, sidecars=spec.sidecars + sidecars,
        files=spec.files + (ConfigFile(NGINX_LOG_CONFIG, _log_exporter_config()),),
        scrape=spec.scrape + (Scrape("nginx-metrics", NGINX_EXPORTER_PORT), Scrape("log-metrics", NGINX_LOG_EXPORTER_PORT)),
    )


def nginx_exporter(exporters: Exporters) -> ServiceSpec:
    """The stub_status exporter as a container of its own (Docker), calling nginx's status port."""
    return ServiceSpec(
        name=NGINX_EXPORTER, upstream_name="nginx_exporter", image=exporters.image(images.NGINX_EXPORTER),
        command=(f"--nginx.scrape-uri=http://nginx:{nginx.STATUS_PORT}{nginx.STATUS_PATH}",
                 f"--web.listen-address=:{NGINX_EXPORTER_PORT}"),
        ports=(Port("metrics", NGINX_EXPORTER_PORT),),
        health=HealthCheck(port=NGINX_EXPORTER_PORT, path="/metrics"),
        depends_on=("nginx",),
        calls=(Call("nginx", nginx.STATUS_PORT),),
        scrape=(Scrape("metrics", NGINX_EXPORTER_PORT),),
    )


def redis_exporter(redis: RedisEndpoint, queues: tuple[str, ...], image: str) -> ServiceSpec:
    """redis_exporter at Dify's Redis: server metrics, and each Celery queue's length in the broker db
    (`redis_key_size{db="db<n>",key="<queue>"}`)."""
    scheme = "rediss" if redis.use_tls else "redis"
    address = pulumi.Output.all(redis.host, redis.port).apply(lambda a: f"{scheme}://{a[0]}:{int(a[1])}")
    env: dict = {
        "REDIS_ADDR": address,
        "REDIS_EXPORTER_CHECK_SINGLE_KEYS": ",".join(f"db{redis.broker_db}={q}" for q in queues),
        "REDIS_EXPORTER_WEB_LISTEN_ADDRESS": f"0.0.0.0:{REDIS_EXPORTER_PORT}",
    }
    if redis.username:
        env["REDIS_USER"] = redis.username
    return ServiceSpec(
        name=REDIS_EXPORTER, upstream_name="redis_exporter", image=image,
        ports=(Port("metrics", REDIS_EXPORTER_PORT),),
        env=env, secret_env={"REDIS_PASSWORD": redis.password},
        health=HealthCheck(port=REDIS_EXPORTER_PORT, path="/health"),
        networks=frozenset({DATA_NET}), uses_data=True, data=frozenset({REDIS}),
        scrape=(Scrape("metrics", REDIS_EXPORTER_PORT),),
    )


def postgres_exporter(pg: PostgresEndpoint, image: str) -> ServiceSpec:
    """postgres-exporter at the self-hosted PostgreSQL (one connection of the server's budget)."""
    uri = pulumi.Output.all(pg.host, pg.port).apply(
        lambda a: f"{a[0]}:{int(a[1])}/{pg.database}?sslmode={pg.ssl_mode}")
    return ServiceSpec(
        name=POSTGRES_EXPORTER, upstream_name="postgres_exporter", image=image,
        ports=(Port("metrics", POSTGRES_EXPORTER_PORT),),
        env={"DATA_SOURCE_URI": uri, "DATA_SOURCE_USER": pg.user},
        secret_env={"DATA_SOURCE_PASS": pg.password},
        health=HealthCheck(port=POSTGRES_EXPORTER_PORT),
        networks=frozenset({DATA_NET}), uses_data=True, data=frozenset({POSTGRES}),
        scrape=(Scrape("metrics", POSTGRES_EXPORTER_PORT),),
    )


def with_exporters(catalog: dict[str, ServiceSpec], exporters: Exporters) -> dict[str, ServiceSpec]:
    """The catalog with nginx's exporters (sidecars or a container), the data services' exporters, and the
    plugin daemon's own metrics where its release serves them."""
    result = dict(catalog)
    if exporters.sidecars:
        result["nginx"] = with_nginx_exporters(result["nginx"], exporters)
    else:
        result[NGINX_EXPORTER] = nginx_exporter(exporters)
    if exporters.daemon_metrics and exporters.sidecars:
        daemon = result["plugin-daemon"]
        result["plugin-daemon"] = replace(daemon, scrape=daemon.scrape + (
            Scrape("http", daemon.ports[0].number, PLUGIN_DAEMON_METRICS),))
    if exporters.redis is not None:
        result[REDIS_EXPORTER] = redis_exporter(exporters.redis, exporters.queues,
                                                exporters.image(images.REDIS_EXPORTER))
    if exporters.postgres is not None:
        result[POSTGRES_EXPORTER] = postgres_exporter(exporters.postgres, exporters.image(images.POSTGRES_EXPORTER))
    return result
