"""The services that came after 1.13: workflow collaboration (the api's websocket server) and the
Agent v2 runtime (agent backend, its local sandbox, and that sandbox's own SSRF proxy).

Isolation follows upstream's compose: the local sandbox runs agent-generated shell commands, so it
sits only on two internal networks: one it shares with the agent backend (which drives it) and one
it shares with its SSRF proxy (its only way out). It has no route to the api, the plugin daemon or
the data services.
"""

from __future__ import annotations

from components.dify import ssrf_proxy
from components.dify.environment import VECTOR_STORE_PREFIXES, Env, PublicUrls, SecretEnv, flag, redis_url
from components.dify.ports import AGENT_BACKEND_PORT, API_PORT, LOCAL_SANDBOX_PORT, PLUGIN_DAEMON_PORT, PROXY_PORT
from components.dify.releases import Release
from components.endpoints import RedisEndpoint
from components.secrets import DifySecrets
from components.workload import (
    AGENT_PROXY_NET, AGENT_SANDBOX_NET, ALL_DATA, APP_NET, DATA_NET, REDIS, Call, ConfigFile, HealthCheck, Port,
    ServiceSpec, curl_check,
)

WEBSOCKET, AGENT_BACKEND, LOCAL_SANDBOX, AGENT_PROXY = (
    "api-websocket", "agent-backend", "local-sandbox", "agent-ssrf-proxy",
)
WEBSOCKET_WORKER = "geventwebsocket.gunicorn.workers.GeventWebSocketWorker"
AGENT_STUB_PATH = "/agent-stub/"


def collaboration_env(release: Release) -> Env:
    """Upstream's switch, shared by api, worker and beat; off where the release or the stack has none."""
    return release.known_env({"ENABLE_COLLABORATION_MODE": flag("collaboration" in release.features)})



def agent_client_env(secrets: DifySecrets) -> tuple[Env, SecretEnv]:
    """How api and worker reach the agent backend. The token equals the backend's DIFY_AGENT_API_TOKEN."""
    assert secrets.agent_api_token is not None
    return (
        {"AGENT_BACKEND_BASE_URL": f"http://{AGENT_BACKEND}:{AGENT_BACKEND_PORT}"},
        {"AGENT_BACKEND_API_TOKEN": secrets.agent_api_token},
    )


def web_env(urls: PublicUrls, api_addr: str, release: Release) -> Env:
    """The web app: its server side calls the api inside the deployment; the browser's socket goes to the
    public address (wss:// behind TLS). Without any known address (a cluster without `domain`) the
    web app's own default applies, which only works on localhost."""
    env: Env = {"NEXT_TELEMETRY_DISABLED": "1", "SERVER_CONSOLE_API_URL": f"http://{api_addr}",
                 "NEXT_PUBLIC_ENABLE_AGENT_V2": flag("agent" in release.features),
                 **collaboration_env(release)}
    if urls.explicit:
        env.update(CONSOLE_API_URL=urls.base, APP_API_URL=urls.base)
    if "collaboration" in release.features and urls.base:
        env["NEXT_PUBLIC_SOCKET_URL"] = urls.base.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return release.known_env(env)


def websocket_service(api_image: str, api_env: tuple[Env, SecretEnv], files: tuple[ConfigFile, ...]) -> ServiceSpec:
    """The api image serving Socket.IO for workflow collaboration (nginx routes /socket.io/ here).

    Processes and replicas share rooms through python-socketio's RedisManager (on Dify's Redis), and
    the web client connects with the websocket transport only, so replicas need no session affinity."""
    plain, secret = api_env
    # Nor does it read the vector store, which only the api's requests and the worker's tasks use.
    secret = {k: v for k, v in secret.items() if k != "AGENT_BACKEND_API_TOKEN" and not k.startswith(VECTOR_STORE_PREFIXES)}
    plain = {k: v for k, v in plain.items() if k not in ("GUNICORN_CMD_ARGS", "SERVER_WORKER_AMOUNT",
                                                         "SERVER_WORKER_CONNECTIONS")
             and not k.startswith(VECTOR_STORE_PREFIXES)}
    return ServiceSpec(
        name=WEBSOCKET, upstream_name="api_websocket", image=api_image,
        ports=(Port("http", API_PORT),),
        env={**plain, "MODE": "api", "MIGRATION_ENABLED": "false", "SERVER_WORKER_CLASS": WEBSOCKET_WORKER,
             "SERVER_WORKER_AMOUNT": "1", "SERVER_WORKER_CONNECTIONS": "1000", "GUNICORN_TIMEOUT": "360"},
        secret_env=secret, files=files,
        health=HealthCheck(port=API_PORT, path="/health", command=curl_check(API_PORT, "/health"), start_period_s=120,
                           retries=5),
        networks=frozenset({APP_NET, DATA_NET}), uses_data=True, depends_on=("api",),
        # Browsers reconnect their sockets to another replica.
        grace_period_s=60, drain_s=10,
        data=ALL_DATA,
    )


def agent_services(image: dict[str, str], squid_image: str, redis: RedisEndpoint, secrets: DifySecrets,
                   api_addr: str) -> list[ServiceSpec]:
    """Names as upstream's compose at 1.16.1 (newer releases keep the SHELLCTL names as aliases)."""
    assert secrets.agent_api_token is not None and secrets.agent_server_secret_key is not None
    assert secrets.local_sandbox_token is not None
    backend_url = f"http://{AGENT_BACKEND}:{AGENT_BACKEND_PORT}"
    proxy = f"http://{AGENT_PROXY}:{PROXY_PORT}"
    backend = ServiceSpec(
        name=AGENT_BACKEND, upstream_name="agent_backend", image=image["agent_backend"],
        ports=(Port("http", AGENT_BACKEND_PORT),),
        env={
            "DIFY_AGENT_REDIS_PREFIX": "dify-agent",
            "DIFY_AGENT_PLUGIN_DAEMON_URL": f"http://plugin-daemon:{PLUGIN_DAEMON_PORT}",
            "DIFY_AGENT_INNER_API_URL": f"http://{api_addr}",
            "DIFY_AGENT_SHELLCTL_ENTRYPOINT": f"http://{LOCAL_SANDBOX}:{LOCAL_SANDBOX_PORT}",
            # The sandbox calls this through its proxy, which lets /agent-stub/ through to the backend.
            "DIFY_AGENT_STUB_API_BASE_URL": f"{backend_url}{AGENT_STUB_PATH}",
        },
        secret_env={
            "DIFY_AGENT_API_TOKEN": secrets.agent_api_token,
            "DIFY_AGENT_REDIS_URL": redis_url(redis, redis.agent_db),
            "DIFY_AGENT_PLUGIN_DAEMON_API_KEY": secrets.plugin_daemon_key,
            "DIFY_AGENT_INNER_API_KEY": secrets.inner_api_key,
            "DIFY_AGENT_SERVER_SECRET_KEY": secrets.agent_server_secret_key,
            "DIFY_AGENT_SHELLCTL_AUTH_TOKEN": secrets.local_sandbox_token,
        },
        # Upstream defines no health endpoint: a TCP probe on Kubernetes; on Docker it is started, as upstream.
        health=HealthCheck(port=AGENT_BACKEND_PORT, start_period_s=60),
        networks=frozenset({APP_NET, DATA_NET, AGENT_SANDBOX_NET}), uses_data=True,
        depends_on=(LOCAL_SANDBOX, "plugin-daemon"),
        calls=(Call("plugin-daemon", PLUGIN_DAEMON_PORT), Call(api_addr.split(":", 1)[0], API_PORT),
               Call(LOCAL_SANDBOX, LOCAL_SANDBOX_PORT)),
        data=frozenset({REDIS}), internet=True,
    )
    sandbox = ServiceSpec(
        name=LOCAL_SANDBOX, upstream_name="local_sandbox", image=image["local_sandbox"],
        ports=(Port("http", LOCAL_SANDBOX_PORT),),
        env={"HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "NO_PROXY": "localhost,127.0.0.1",
             # Landlock confines each command to its paths (Linux 5.13+ with Landlock enabled).
             "SHELLCTL_ENABLE_PATH_ISOLATION": "true"},
        secret_env={"SHELLCTL_AUTH_TOKEN": secrets.local_sandbox_token},
        health=HealthCheck(port=LOCAL_SANDBOX_PORT, path="/healthz", command=curl_check(LOCAL_SANDBOX_PORT, "/healthz"),
                           start_period_s=10),
        networks=frozenset({AGENT_SANDBOX_NET, AGENT_PROXY_NET}), depends_on=(AGENT_PROXY,),
        calls=(Call(AGENT_PROXY, PROXY_PORT),),
        # Its jobs and homes live in the container: one instance, never two at once.
        singleton=True,
    )
    squid = ServiceSpec(
        name=AGENT_PROXY, upstream_name="agent_ssrf_proxy", image=squid_image,
        ports=(Port("proxy", PROXY_PORT),),
        files=(ssrf_proxy.config_file(
            sandbox_host=None, sandbox_port=None, proxy_port=PROXY_PORT,
            internal_paths=((AGENT_BACKEND, AGENT_STUB_PATH), (api_addr.split(":", 1)[0], "/files/")),
        ),),
        health=HealthCheck(port=PROXY_PORT, command=("CMD", "squid", "-k", "check")),
        networks=frozenset({APP_NET, AGENT_PROXY_NET}),
        # The two internal paths its config lets through: the backend's stub and the api's files.
        calls=(Call(AGENT_BACKEND, AGENT_BACKEND_PORT), Call(api_addr.split(":", 1)[0], API_PORT)),
        internet=True,
    )
    return [backend, sandbox, squid]
