"""The entry router (nginx), routing as upstream's nginx/conf.d/default.conf.template does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from components.dify import rate_limits
from components.dify.rate_limits import RateLimits
from components.workload import ConfigFile

CONFIG_PATH = "/etc/nginx/conf.d/default.conf"
TLS_DIR = "/etc/nginx/tls"
HEALTH_PATH = "/healthz"
# Unprivileged ports: nginx needs no capability and runs as its image's user.
HTTP_PORT, HTTPS_PORT = 8080, 8443
STATUS_PORT, STATUS_PATH = 8081, "/stub_status"
# The image's own access log (a link to stdout).
ACCESS_LOG = "/var/log/nginx/access.log"


@dataclass(frozen=True)
class Status:
    """nginx's own counters for an exporter: `stub_status` on a server of its own at `listen` (an address in
    the pod for a sidecar, or a port for an exporter container beside it), outside the routed servers.
    `access_syslog`: also send each access log line to a log exporter at this host:port (UDP syslog), the
    source of status codes, which stub_status does not count."""

    listen: str = f"127.0.0.1:{STATUS_PORT}"
    access_syslog: Optional[str] = None


# The image's `main` format plus the request time, defined here so the config does not rely on nginx.conf.
_LOG_FORMAT = ("log_format dify_access '$remote_addr - $remote_user [$time_local] \"$request\" '\n"
               "                       '$status $body_bytes_sent \"$http_referer\" '\n"
               "                       '\"$http_user_agent\" \"$http_x_forwarded_for\" $request_time';\n")


def _status_server(status: Status) -> str:
    return (
        f"server {{\n    listen {status.listen};\n    server_name _;\n    access_log off;\n"
        f"    location = {STATUS_PATH} {{\n        stub_status;\n    }}\n"
        "    location / {\n        return 404;\n    }\n}\n"
    )


def _access_logs(status: Optional[Status]) -> str:
    if status is None or status.access_syslog is None:
        return ""
    return (f"    access_log {ACCESS_LOG} dify_access;\n"
            f"    access_log syslog:server={status.access_syslog},tag=nginx,severity=info dify_access;\n")

# (location, upstream key). Order as upstream's template; nginx picks the longest prefix anyway.
ROUTES: tuple[tuple[str, str], ...] = (
    ("/console/api", "api"),
    ("/api", "api"),
    ("/v1", "api"),
    ("/files", "api"),
    ("/explore", "web"),
    ("/e/", "plugin_daemon"),
    ("/", "web"),
    ("/mcp", "api"),
    ("/triggers", "api"),
)

_PROXY_SETTINGS = """\
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $forwarded_proto;
        proxy_set_header X-Forwarded-Port $server_port;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_read_timeout {read_timeout}s;
        proxy_send_timeout {read_timeout}s;"""
# Streamed answers (SSE) stay open while Dify works; an hour covers its longest run.
STREAM_TIMEOUT_S = 3600


# Socket.IO (workflow collaboration): the connection is upgraded to a websocket, so it keeps the
# Upgrade/Connection headers instead of the keep-alive `Connection ""` of the other locations.
_WEBSOCKET_LOCATION = """\
    location /socket.io/ {{
        proxy_pass http://{upstream};
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $forwarded_proto;
        proxy_buffering off;
        proxy_read_timeout 3600s;
        proxy_send_timeout 3600s;
    }}"""
_UPGRADE_MAP = "map $http_upgrade $connection_upgrade {\n    default upgrade;\n    \"\" close;\n}\n"


def _locations(upstreams: dict[str, str], extra_api_routes: tuple[str, ...], limits: Optional[RateLimits]) -> str:
    blocks = []
    if upstreams.get("websocket"):
        blocks.append(_WEBSOCKET_LOCATION.format(upstream=upstreams["websocket"]))
    auth = tuple((route, "auth") for route in rate_limits.AUTH_ROUTES) if limits else ()
    for path, target in ROUTES + tuple((route, "api") for route in extra_api_routes) + auth:
        extra, timeout = "", STREAM_TIMEOUT_S
        if target == "plugin_daemon":
            extra = "        proxy_set_header Dify-Hook-Url $forwarded_proto://$host$request_uri;\n"
        if limits and target == "api":
            extra += rate_limits.api_location(limits)
        if limits and target == "auth":
            extra, timeout = rate_limits.auth_location(limits), limits.auth_read_timeout_s
        upstream = upstreams["api" if target == "auth" else target]
        blocks.append(f"    location {path} {{\n        proxy_pass http://{upstream};\n{extra}"
                      f"{_PROXY_SETTINGS.format(read_timeout=timeout)}\n    }}")
    return "\n".join(blocks)


@dataclass(frozen=True)
class Certificate:
    """Where nginx reads its certificate, and (ACME) the webroot it serves HTTP-01 challenges from."""

    chain: str = f"{TLS_DIR}/tls.crt"
    key: str = f"{TLS_DIR}/tls.key"
    acme_webroot: Optional[str] = None


def _acme_challenge(certificate: Certificate) -> str:
    # `^~`: no regex location takes these requests; served on port 80 ahead of the redirect to HTTPS.
    if certificate.acme_webroot is None:
        return ""
    return (f"    location ^~ /.well-known/acme-challenge/ {{\n        root {certificate.acme_webroot};\n"
            "        default_type text/plain;\n    }\n")


def render(api: str, web: str, plugin_daemon: str, body_limit: str = "100M", tls: bool = False,
           https_port: int = 443, behind_proxy: bool = False, websocket: Optional[str] = None,
           extra_api_routes: tuple[str, ...] = (), status: Optional[Status] = None,
           certificate: Certificate = Certificate(), limits: Optional[RateLimits] = None,
           trusted_proxies: tuple[str, ...] = ()) -> str:
    """`behind_proxy`: a load balancer in front terminates TLS; trust its X-Forwarded-Proto.
    `limits`: per-client rate and connection limits on the api's routes (components.dify.rate_limits);
    `trusted_proxies`: the ranges whose X-Forwarded-For names the client (the balancer or Ingress in front).
    `websocket`: the collaboration server (host:port) that /socket.io/ goes to, when there is one.
    Upstreams are host names that resolve through the system resolver (Docker's DNS on a Docker host,
    the cluster DNS on Kubernetes) when nginx starts. `extra_api_routes`: the release's newer api paths."""
    upstreams = {"api": api, "web": web, "plugin_daemon": plugin_daemon, "websocket": websocket}
    scheme_source = "$http_x_forwarded_proto" if behind_proxy else "$scheme"
    header = (
        "# Rendered by the Dify deployment; do not edit on the host.\n"
        f"map {scheme_source} $forwarded_proto {{\n    default {scheme_source};\n    \"\" $scheme;\n}}\n"
        + (_UPGRADE_MAP if websocket else "")
        + (_LOG_FORMAT if status is not None and status.access_syslog else "")
        + (_status_server(status) if status is not None else "")
        + rate_limits.real_ip(trusted_proxies)
        + (rate_limits.http_directives(limits) if limits else "")
    )
    health = f"    location = {HEALTH_PATH} {{\n        access_log off;\n        return 200 \"ok\\n\";\n    }}"
    common = (f"    server_name _;\n    client_max_body_size {body_limit};\n    keepalive_timeout 65;\n"
              + _access_logs(status) + (rate_limits.server_directives() if limits else ""))
    routes = _locations(upstreams, extra_api_routes, limits)
    if not tls:
        return f"{header}server {{\n    listen {HTTP_PORT};\n{common}{health}\n{routes}\n}}\n"
    redirect_port = "" if https_port == 443 else f":{https_port}"
    return (
        f"{header}server {{\n    listen {HTTP_PORT};\n    server_name _;\n{_access_logs(status)}{health}\n"
        f"{_acme_challenge(certificate)}"
        f"    location / {{\n        return 301 https://$host{redirect_port}$request_uri;\n    }}\n}}\n"
        f"server {{\n    listen {HTTPS_PORT} ssl;\n    http2 on;\n{common}"
        f"    ssl_certificate {certificate.chain};\n    ssl_certificate_key {certificate.key};\n"
        "    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_prefer_server_ciphers on;\n"
        "    ssl_session_cache shared:SSL:10m;\n    ssl_session_timeout 10m;\n"
        "    add_header Strict-Transport-Security \"max-age=31536000\" always;\n"
        f"{health}\n{routes}\n}}\n"
    )


def config_files(api: str, web: str, plugin_daemon: str, body_limit: str, tls: bool,
                 https_port: int = 443, behind_proxy: bool = False,
                 websocket: Optional[str] = None, extra_api_routes: tuple[str, ...] = (),
                 status: Optional[Status] = None, certificate: Certificate = Certificate(),
                 limits: Optional[RateLimits] = None, trusted_proxies: tuple[str, ...] = ()) -> tuple[ConfigFile, ...]:
    """The server config; with TLS the certificate files are added by the renderer from secrets."""
    return (ConfigFile(CONFIG_PATH, render(api, web, plugin_daemon, body_limit, tls, https_port, behind_proxy,
                                           websocket, extra_api_routes, status, certificate, limits,
                                           trusted_proxies)),)
