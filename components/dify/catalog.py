"""The Dify application described once, as data: what each service runs and needs.

The Docker and Kubernetes renderers turn these specs into containers or workloads; neither
knows anything about Dify that is not written here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import pulumi

from components import acme, images
from components.acme import Acme
from components.dify import nginx, ssrf_proxy
from components.dify.concurrency import CONCURRENCY, Concurrency
from components.dify import workers
from components.dify.rate_limits import RateLimits
from components.dify.workers import WorkerPool
from components.dify.ports import AGENT_BACKEND_PORT, API_PORT, PLUGIN_DAEMON_PORT, PROXY_PORT, SANDBOX_PORT, WEB_PORT
from components.dify.agent import AGENT_BACKEND, WEBSOCKET, agent_client_env, agent_services, collaboration_env, web_env, websocket_service
from components.dify.environment import (
    POSTGRES_CA_PATH,
    VERIFYING_SSL_MODES,
    Env,
    PublicUrls,
    SecretEnv,
    Telemetry,
    pgvector_env,
    plugin_daemon_redis_env,
    plugin_daemon_ssl_mode,
    plugin_storage_env,
    postgres_env,
    redis_env,
    storage_env,
    telemetry_env,
    url_env,
    vector_store_env,
)
from components.workload import (
    ALL_DATA, APP_NET, DATA_NET, SANDBOX_NET, VECTOR_STORE, Call, ConfigFile, HealthCheck, Port, PublishedPort,
    QueueScaling, ServiceSpec, StateMount, curl_check,
)
from components.endpoints import DataEndpoints, PostgresEndpoint
from components.secrets import DifySecrets
from stacks.config import DifySettings, RegistrySettings

PLUGIN_STORAGE_ROOT = "/app/storage"
# Dify's longest default run: APP_MAX_EXECUTION_TIME and WORKFLOW_MAX_EXECUTION_TIME (1200 s). A stopping
# api (a streaming response), worker (a running task) or nginx (a proxied stream) may finish that long.
LONGEST_RUN_S = 1200
LONG_GRACE_S = LONGEST_RUN_S + 60
DRAIN_S = 10

# Config spells services in camelCase (dify.extraEnv.pluginDaemon); the catalog by host name.
CONFIG_NAMES = {
    "api": "api", "worker": "worker", "beat": "beat", "web": "web", "sandbox": "sandbox",
    "pluginDaemon": "plugin-daemon", "ssrfProxy": "ssrf-proxy", "nginx": "nginx",
    "apiWebsocket": "api-websocket", "agentBackend": "agent-backend", "localSandbox": "local-sandbox",
    "agentSsrfProxy": "agent-ssrf-proxy",
}


class CatalogError(pulumi.RunError):
    """A catalog setting that cannot work, reported like a config error."""


@dataclass(frozen=True)
class Edge:
    """How the entry (nginx) is exposed: its public ports, and TLS in nginx when a certificate is given."""

    http_port: int = 80
    https_port: int = 443
    tls_certificate: Optional[pulumi.Output[str]] = None
    tls_key: Optional[pulumi.Output[str]] = None
    behind_proxy: bool = False
    # Docker host: a certificate obtained and renewed over ACME instead of a given one.
    acme: Optional[Acme] = None
    # Per-client limits in nginx (None: none), and the proxies whose X-Forwarded-For names the client.
    rate_limits: Optional[RateLimits] = None
    trusted_proxies: tuple[str, ...] = ()

    @property
    def tls(self) -> bool:
        return self.tls_certificate is not None or self.acme is not None


def _merge(*parts: tuple[Env, SecretEnv]) -> tuple[Env, SecretEnv]:
    plain: Env = {}
    secret: SecretEnv = {}
    for p, s in parts:
        plain.update(p)
        secret.update(s)
    return plain, secret


def build_catalog(
    settings: DifySettings,
    registry: RegistrySettings,
    urls: PublicUrls,
    data: DataEndpoints,
    secrets: DifySecrets,
    edge: Edge = Edge(),
    concurrency: Concurrency = CONCURRENCY["dev"],
    telemetry: Optional[Telemetry] = None,
    nginx_status: Optional[nginx.Status] = None,
    worker_pools: Optional[tuple[WorkerPool, ...]] = None,
) -> dict[str, ServiceSpec]:
    """Every Dify service of the configured release, keyed by its host name inside the deployment.
    `worker_pools`: the Celery workers (components.dify.workers); one worker for every queue by default.
    `telemetry`: api, worker (and the websocket server, an api) export traces and metrics over OTLP;
    `nginx_status`: nginx serves its counters for an exporter."""
    release = settings.release
    image = {role: images.image_ref(ref, registry.mirror) for role, ref in release.images().items()}
    agent, collaboration = "agent" in release.features, "collaboration" in release.features
    api_addr = f"api:{API_PORT}"

    vectors = data.vector_store
    shared_plain, shared_secret = _merge(
        postgres_env(data.postgres),
        redis_env(data.redis),
        storage_env(data.object_store),
        (
            {
                "LOG_LEVEL": settings.log_level,
                "UPLOAD_FILE_SIZE_LIMIT": str(settings.upload_file_size_limit_mb),
                "PLUGIN_DAEMON_URL": f"http://plugin-daemon:{PLUGIN_DAEMON_PORT}",
                "CODE_EXECUTION_ENDPOINT": f"http://sandbox:{SANDBOX_PORT}",
                "SSRF_PROXY_HTTP_URL": f"http://ssrf-proxy:{PROXY_PORT}",
                "SSRF_PROXY_HTTPS_URL": f"http://ssrf-proxy:{PROXY_PORT}",
                "MIGRATION_ENABLED": "false",
                # From 1.16 the image's own default is the websocket worker; the api serves HTTP.
                "SERVER_WORKER_CLASS": "gevent",
                **url_env(urls, api_addr),
                **collaboration_env(release),
                **concurrency.shared_env(),
            },
            {
                "SECRET_KEY": secrets.secret_key,
                "PLUGIN_DAEMON_KEY": secrets.plugin_daemon_key,
                "CODE_EXECUTION_API_KEY": secrets.sandbox_api_key,
                "INNER_API_KEY_FOR_PLUGIN": secrets.inner_api_key,
            },
        ),
        agent_client_env(secrets) if agent else ({}, {}),
    )
    ca_files = _postgres_ca_files(data.postgres)

    pgvector_pool = {k: v for k, v in shared_plain.items() if k.startswith("PGVECTOR_")}
    shared_plain = {k: v for k, v in shared_plain.items() if not k.startswith("PGVECTOR_")}
    # The vector store (pgvector too) serves the api (retrieval) and the worker (indexing) only.
    if vectors is not None:
        vector_plain, vector_secret = vector_store_env(vectors)
    else:
        vector_plain, vector_secret = pgvector_env(data.postgres)
        vector_plain = {**vector_plain, **pgvector_pool}
    vector_user_data = ALL_DATA | ({VECTOR_STORE} if vectors is not None else set())

    def api_mode(mode: str, **extra: str) -> tuple[Env, SecretEnv]:
        if mode in ("api", "worker"):
            return {**shared_plain, **vector_plain, "MODE": mode, **extra}, {**shared_secret, **vector_secret}
        return {**shared_plain, "MODE": mode, **extra}, dict(shared_secret)

    def exporting(env: tuple[Env, SecretEnv]) -> tuple[Env, SecretEnv]:
        plain, secret = telemetry_env(telemetry)
        return {**env[0], **plain}, {**env[1], **secret}

    # Only the api migrates (Dify's own lock guards its replicas); worker and beat start after it.
    # gunicorn reads GUNICORN_CMD_ARGS itself: on SIGTERM its workers finish open streams, up to the longest run.
    api_env = exporting(api_mode("api", MIGRATION_ENABLED="true",
                                 GUNICORN_CMD_ARGS=f"--graceful-timeout {LONGEST_RUN_S}", **concurrency.api_env()))
    worker_env = exporting(api_mode("worker"))
    beat_env = api_mode("beat")
    # Beat only schedules: it calls neither the plugin daemon's inner api nor the agent backend.
    for key in ("INNER_API_KEY_FOR_PLUGIN", "AGENT_BACKEND_API_TOKEN"):
        beat_env[1].pop(key, None)

    daemon_plain, daemon_secret = _merge(
        postgres_env(data.postgres),
        plugin_daemon_redis_env(data.redis),
        plugin_storage_env(data.object_store),
        (
            {
                "DB_DATABASE": data.postgres.plugin_database,
                "DB_SSL_MODE": plugin_daemon_ssl_mode(data.postgres.ssl_mode),
                "SERVER_PORT": str(PLUGIN_DAEMON_PORT),
                "DIFY_INNER_API_URL": f"http://{api_addr}",
                "PLUGIN_WORKING_PATH": f"{PLUGIN_STORAGE_ROOT}/cwd",
                "PLUGIN_STORAGE_LOCAL_ROOT": PLUGIN_STORAGE_ROOT,
                "PLUGIN_REMOTE_INSTALLING_HOST": "0.0.0.0",
                "PLUGIN_REMOTE_INSTALLING_PORT": "5003",
                "FORCE_VERIFYING_SIGNATURE": "true",
                "PIP_MIRROR_URL": settings.pip_mirror_url or "",
                **concurrency.daemon_env(),
            },
            {"SERVER_KEY": secrets.plugin_daemon_key, "DIFY_INNER_API_KEY": secrets.inner_api_key},
        ),
    )
    daemon_plain.pop("DB_EXTRAS")

    # api and worker call the code sandbox, the plugin daemon, the SSRF proxy and the agent backend;
    # they reach model providers and tools on the internet themselves.
    api_calls = (Call("sandbox", SANDBOX_PORT), Call("plugin-daemon", PLUGIN_DAEMON_PORT),
                 Call("ssrf-proxy", PROXY_PORT)) + ((Call(AGENT_BACKEND, AGENT_BACKEND_PORT),) if agent else ())

    services = [
        ServiceSpec(
            name="api", upstream_name="api", image=image["api"],
            ports=(Port("http", API_PORT),),
            env=api_env[0], secret_env=api_env[1], files=ca_files,
            health=HealthCheck(port=API_PORT, path="/health", command=curl_check(API_PORT, "/health"),
                               start_period_s=120, retries=5),
            networks=frozenset({APP_NET, SANDBOX_NET, DATA_NET}), uses_data=True,
            grace_period_s=LONG_GRACE_S, drain_s=DRAIN_S,
            calls=api_calls, data=vector_user_data, internet=True,
        ),
        ServiceSpec(
            name="beat", upstream_name="worker_beat", image=image["api"],
            env=beat_env[0], secret_env=beat_env[1], files=ca_files,
            networks=frozenset({APP_NET, DATA_NET}), uses_data=True, depends_on=("api",), singleton=True,
            data=ALL_DATA,
            # celery beat keeps its schedule file (celerybeat-schedule) in its working directory, /app/api.
            writes_image=True, priority="background",
        ),
        ServiceSpec(
            name="web", upstream_name="web", image=image["web"],
            ports=(Port("http", WEB_PORT),), env=web_env(urls, api_addr, release),
            grace_period_s=60, drain_s=DRAIN_S,
            health=HealthCheck(
                port=WEB_PORT, path="/apps",
                command=("CMD", "node", "-e",
                         f"require('http').get('http://127.0.0.1:{WEB_PORT}/apps',"
                         "r=>process.exit(r.statusCode<500?0:1)).on('error',()=>process.exit(1))"),
            ),
            calls=(Call("api", API_PORT),),
        ),
        ServiceSpec(
            name="sandbox", upstream_name="sandbox", image=image["sandbox"],
            ports=(Port("http", SANDBOX_PORT),),
            env={
                "GIN_MODE": "release",
                "WORKER_TIMEOUT": "15",
                "ENABLE_NETWORK": "true",
                "HTTP_PROXY": f"http://ssrf-proxy:{PROXY_PORT}",
                "HTTPS_PROXY": f"http://ssrf-proxy:{PROXY_PORT}",
                "SANDBOX_PORT": str(SANDBOX_PORT),
                "PIP_MIRROR_URL": settings.pip_mirror_url or "",
            },
            secret_env={"API_KEY": secrets.sandbox_api_key},
            health=HealthCheck(port=SANDBOX_PORT, path="/health", command=curl_check(SANDBOX_PORT, "/health")),
            state=(StateMount("sandbox-dependencies", "/dependencies"),),
            networks=frozenset({SANDBOX_NET}), depends_on=("ssrf-proxy",),
            calls=(Call("ssrf-proxy", PROXY_PORT),),
            # Untrusted code, CPU-hungry: under pressure it yields to the services that answer requests.
            priority="background",
        ),
        ServiceSpec(
            name="plugin-daemon", upstream_name="plugin_daemon", image=image["plugin_daemon"],
            ports=(Port("http", PLUGIN_DAEMON_PORT),),
            env=daemon_plain, secret_env=daemon_secret,
            # The daemon's image (ubuntu + Python for plugins) has no curl.
            health=HealthCheck(
                port=PLUGIN_DAEMON_PORT, path="/health/check", start_period_s=60,
                command=("CMD", "python3", "-c",
                         "import urllib.request; urllib.request.urlopen("
                         f"'http://127.0.0.1:{PLUGIN_DAEMON_PORT}/health/check', timeout=4)"),
            ),
            state=(StateMount("plugin-daemon-storage", PLUGIN_STORAGE_ROOT),),
            networks=frozenset({APP_NET, DATA_NET}), uses_data=True,
            # The inner API on the api; plugins and their pip installs go to the internet.
            calls=(Call("api", API_PORT),), data=ALL_DATA, internet=True,
        ),
        ServiceSpec(
            name="ssrf-proxy", upstream_name="ssrf_proxy",
            image=images.image_ref(images.SQUID, registry.mirror),
            ports=(Port("proxy", PROXY_PORT), Port("sandbox", SANDBOX_PORT)),
            files=(ssrf_proxy.config_file(sandbox_host="sandbox", sandbox_port=SANDBOX_PORT,
                                          proxy_port=PROXY_PORT),),
            health=HealthCheck(port=PROXY_PORT, command=("CMD", "squid", "-k", "check")),
            networks=frozenset({APP_NET, SANDBOX_NET}),
            # Its reverse port forwards to the sandbox.
            calls=(Call("sandbox", SANDBOX_PORT),), internet=True,
        ),
    ]
    pools = worker_pools or workers.single(release.worker_queues, concurrency.celery_tasks)
    services[1:1] = [_worker(pool, image["api"], worker_env, ca_files, data, release, api_calls, vector_user_data)
                     for pool in pools]
    if collaboration:
        services.append(websocket_service(image["api"], api_env, ca_files))
    if agent:
        services += agent_services(image, images.image_ref(images.SQUID, registry.mirror), data.redis, secrets,
                                   api_addr)
    services.append(_with_acme(edge, registry, ServiceSpec(
        name="nginx", upstream_name="nginx",
        image=images.image_ref(images.NGINX, registry.mirror),
        ports=(Port("http", nginx.HTTP_PORT),) + ((Port("https", nginx.HTTPS_PORT),) if edge.tls else ()),
        files=_nginx_files(settings, edge, api_addr, collaboration, nginx_status),
        public_ports=(PublishedPort("http", nginx.HTTP_PORT, edge.http_port),)
        + ((PublishedPort("https", nginx.HTTPS_PORT, edge.https_port),) if edge.tls else ()),
        health=HealthCheck(port=nginx.HTTP_PORT, path=nginx.HEALTH_PATH,
                           command=("CMD", "wget", "-q", "-O", "/dev/null",
                                    f"http://127.0.0.1:{nginx.HTTP_PORT}{nginx.HEALTH_PATH}")),
        depends_on=("api", "web", "plugin-daemon") + ((WEBSOCKET,) if collaboration else ()),
        # The image stops nginx with SIGQUIT: it closes idle connections and finishes proxied streams.
        grace_period_s=LONG_GRACE_S, drain_s=DRAIN_S,
        calls=(Call("api", API_PORT), Call("web", WEB_PORT), Call("plugin-daemon", PLUGIN_DAEMON_PORT))
        + ((Call(WEBSOCKET, API_PORT),) if collaboration else ()),
    )))
    if edge.acme is not None:
        services.append(acme.acme_service(edge.acme, images.image_ref(images.CERTBOT, registry.mirror)))
    catalog = {service.name: service for service in services}
    return _with_extra_env(catalog, settings.extra_env)


def _worker(pool: WorkerPool, image: str, env: tuple[Env, SecretEnv], files: tuple[ConfigFile, ...],
            data: DataEndpoints, release, calls: tuple[Call, ...], uses: frozenset[str]) -> ServiceSpec:
    """One pool's worker: its tasks at once (`-c`), its queues (`CELERY_QUEUES`; the image's own list for
    the single pool), and an autoscaler on those queues' backlog where KEDA runs."""
    plain = {**env[0], "CELERY_WORKER_AMOUNT": str(pool.concurrency)}
    if pool.queues:
        plain["CELERY_QUEUES"] = ",".join(pool.queues)
    return ServiceSpec(
        name=pool.service, upstream_name="worker", image=image,
        env=plain, secret_env=dict(env[1]), files=files,
        networks=frozenset({APP_NET, SANDBOX_NET, DATA_NET}), uses_data=True, depends_on=("api",),
        # Celery acknowledges tasks as they start: on SIGTERM it finishes the running ones (warm shutdown).
        grace_period_s=LONG_GRACE_S, liveness_command=_celery_ping(release),
        queue_scaling=QueueScaling(
            host=data.redis.host, port=data.redis.port, db=data.redis.broker_db, tls=data.redis.use_tls,
            password_key="REDIS_PASSWORD", queues=pool.watched, per_replica=pool.concurrency),
        calls=calls, data=uses, internet=True, priority="background",
    )


def _celery_ping(release) -> Optional[tuple[str, ...]]:
    """This worker's own reply to a Celery ping, through the image's light health-check app (1.16+);
    1.13's image has none, and loading the whole app every minute costs more than the check is worth."""
    if not release.celery_healthcheck:
        return None
    return ("CMD-SHELL", 'celery -A celery_healthcheck.celery inspect ping -d "celery@$HOSTNAME" --timeout 10')


def _with_acme(edge: Edge, registry: RegistrySettings, spec: ServiceSpec) -> ServiceSpec:
    """nginx with the ACME volumes, its placeholder certificate step and its reload-on-renewal script."""
    if edge.acme is None:
        return spec
    image = images.image_ref(images.CERTBOT, registry.mirror)
    return replace(spec, state=spec.state + acme.MOUNTS, files=spec.files + acme.nginx_files(),
                   prepare=acme.placeholder_step(edge.acme, image))


def _postgres_ca_files(pg: PostgresEndpoint) -> tuple[ConfigFile, ...]:
    if pg.ssl_mode not in VERIFYING_SSL_MODES:
        return ()
    if pg.ca_certificate is None:
        raise CatalogError(f"postgres.sslMode {pg.ssl_mode} verifies the server: set postgres.caCertificate "
                           "to the PEM of the CA that signed the server's certificate")
    return (ConfigFile(POSTGRES_CA_PATH, pg.ca_certificate),)


def _nginx_files(settings: DifySettings, edge: Edge, api_addr: str, collaboration: bool,
                 status: Optional[nginx.Status] = None) -> tuple[ConfigFile, ...]:
    files = nginx.config_files(
        api=api_addr, web=f"web:{WEB_PORT}", plugin_daemon=f"plugin-daemon:{PLUGIN_DAEMON_PORT}",
        websocket=f"{WEBSOCKET}:{API_PORT}" if collaboration else None,
        extra_api_routes=settings.release.extra_api_routes,
        body_limit=settings.request_body_limit, tls=edge.tls, https_port=edge.https_port,
        behind_proxy=edge.behind_proxy, status=status, limits=edge.rate_limits,
        trusted_proxies=edge.trusted_proxies,
        certificate=nginx.Certificate(acme.CERTIFICATE, acme.KEY, acme.WEBROOT) if edge.acme else nginx.Certificate(),
    )
    if edge.tls_certificate is None or edge.tls_key is None:
        return files
    return files + (
        ConfigFile(f"{nginx.TLS_DIR}/tls.crt", edge.tls_certificate, secret=True),
        ConfigFile(f"{nginx.TLS_DIR}/tls.key", edge.tls_key, secret=True),
    )


def _with_extra_env(catalog: dict[str, ServiceSpec], extra: dict[str, dict[str, object]]) -> dict[str, ServiceSpec]:
    """Plain values join the service's env; values that came from secret config (SecretStr) its secret env."""
    for config_name, env in extra.items():
        # `worker` reaches every worker pool.
        targets = [s for s in catalog.values() if s.name == CONFIG_NAMES[config_name]
                   or (config_name == "worker" and s.upstream_name == "worker")]
        if not targets:
            raise CatalogError(
                f"{pulumi.get_project()}:dify.extraEnv.{config_name}: this deployment has no {config_name} "
                "(the release lacks it or dify.features turns it off); remove the key"
            )
        for service in targets:
            catalog[service.name] = _extra_env(service, config_name, env)
    return catalog


def _extra_env(service: ServiceSpec, config_name: str, env: dict[str, object]) -> ServiceSpec:
    clashes = sorted(set(env) & set(service.secret_env))
    if clashes:
        raise CatalogError(
            f"{pulumi.get_project()}:dify.extraEnv.{config_name}: {', '.join(clashes)} hold generated or "
            "configured secrets and cannot be overridden here; set the credential in its own section "
            "(e.g. postgres.password)"
        )
    plain = {k: v for k, v in env.items() if isinstance(v, str)}
    secret = {k: pulumi.Output.secret(v.get_secret_value()) for k, v in env.items()  # type: ignore[attr-defined]
              if not isinstance(v, str)}
    kept = {k: v for k, v in service.env.items() if k not in secret}
    return replace(service, env={**kept, **plain}, secret_env={**service.secret_env, **secret})
