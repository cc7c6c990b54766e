"""Request-rate and connection limits in nginx, per client address and per nginx replica.

Three shared-memory zones keyed by the client's address (`$binary_remote_addr`, after the real-IP
module has replaced a trusted proxy's address with the client's from X-Forwarded-For):
- `dify_api`: requests per second on every location that goes to the api, with a burst served at
  once (`nodelay`) and the rest refused with 429;
- `dify_auth`: requests per minute on the sign-in, code, password-reset, registration and activation
  endpoints of the console and of web apps, on top of `dify_api`;
- `dify_conn`: requests in progress at once per client (each HTTP/2 stream counts). A streamed answer
  (chat-messages, completion-messages, workflows/run: SSE) holds its slot for as long as it streams, up
  to Dify's longest run, so the floor below keeps room for several streams and the console's own
  parallel requests from one address (an office behind one NAT address is one client here).

Every nginx replica counts on its own: behind a balancer spreading over n replicas a client gets up to
n times these rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

API_ZONE, AUTH_ZONE, CONN_ZONE = "dify_api", "dify_auth", "dify_conn"
# The sign-in and account-recovery endpoints, as prefixes of the api's routes (langgenius/dify
# api/controllers/console/auth/{login,forgot_password,email_register,activate}.py under /console/api, and
# api/controllers/web/{login,forgot_password}.py under /api for web apps).
AUTH_ROUTES: tuple[str, ...] = (
    "/console/api/login", "/console/api/email-code-login", "/console/api/forgot-password",
    "/console/api/reset-password", "/console/api/email-register", "/console/api/activate",
    "/api/login", "/api/email-code-login", "/api/forgot-password",
)
# Signing in never streams: a stuck upstream is cut after this long (the api's routes keep an hour).
AUTH_READ_TIMEOUT_S = 60
# Fewer requests in progress per client than this would refuse a user's second or third streamed answer.
MIN_CONNECTIONS_PER_IP = 20
# The private and shared (CGNAT, which Alibaba Cloud's layer-7 balancers send from) ranges: where a
# cluster's load balancers, Ingress controllers and pods have their addresses.
PRIVATE_RANGES: tuple[str, ...] = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
TOO_MANY = "@too_many_requests"


@dataclass(frozen=True)
class RateLimits:
    api_rps: int
    api_burst: int
    login_rpm: int
    login_burst: int
    connections_per_ip: int
    auth_read_timeout_s: int = AUTH_READ_TIMEOUT_S
    # A header a CDN in front sets to the viewer's `address:port` (CloudFront-Viewer-Address): the
    # client is taken from it, since X-Forwarded-For's last untrusted hop is then the CDN's edge.
    viewer_address_header: Optional[str] = None


# Per nginx replica. dev is generous (one developer's scripts and load tests); small and production run
# 2 and 3-10 replicas behind their balancer, so a client's total is a multiple of these.
PRESETS: dict[str, RateLimits] = {
    "dev": RateLimits(api_rps=100, api_burst=200, login_rpm=60, login_burst=20, connections_per_ip=200),
    "small": RateLimits(api_rps=50, api_burst=100, login_rpm=20, login_burst=10, connections_per_ip=100),
    "production": RateLimits(api_rps=30, api_burst=90, login_rpm=10, login_burst=5, connections_per_ip=100),
}


CLIENT_KEY = "$dify_client"


def _client_key(limits: RateLimits) -> tuple[str, str]:
    """The variable the zones count by, and the map that makes it from the viewer header (the port cut
    off; a request without the header counts by its own address)."""
    if limits.viewer_address_header is None:
        return "$binary_remote_addr", ""
    variable = "$http_" + limits.viewer_address_header.lower().replace("-", "_")
    return CLIENT_KEY, (f"map {variable} {CLIENT_KEY} {{\n    \"~^(?<viewer>.+):[0-9]+$\" $viewer;\n"
                        "    default $binary_remote_addr;\n}\n")


def http_directives(limits: RateLimits) -> str:
    key, client_map = _client_key(limits)
    return (
        client_map
        + f"limit_req_zone {key} zone={API_ZONE}:10m rate={limits.api_rps}r/s;\n"
        f"limit_req_zone {key} zone={AUTH_ZONE}:5m rate={limits.login_rpm}r/m;\n"
        f"limit_conn_zone {key} zone={CONN_ZONE}:10m;\n"
        "limit_req_status 429;\nlimit_conn_status 429;\n"
        "limit_req_log_level warn;\nlimit_conn_log_level warn;\n"
    )


def real_ip(trusted: tuple[str, ...]) -> str:
    """The client's address from X-Forwarded-For, read right to left past every trusted proxy: a client
    cannot pass itself off as another by sending the header, since the first untrusted hop wins."""
    if not trusted:
        return ""
    return ("".join(f"set_real_ip_from {cidr};\n" for cidr in trusted)
            + "real_ip_header X-Forwarded-For;\nreal_ip_recursive on;\n")


def server_directives() -> str:
    """A refused request gets a JSON body shaped like Dify's own errors and a Retry-After."""
    return (
        f"    error_page 429 {TOO_MANY};\n"
        f"    location {TOO_MANY} {{\n"
        "        default_type application/json;\n"
        "        add_header Retry-After 1 always;\n"
        "        return 429 '{\"code\": \"too_many_requests\", \"message\": \"Too many requests\", "
        "\"status\": 429}\\n';\n"
        "    }\n"
    )


def api_location(limits: RateLimits) -> str:
    return (f"        limit_req zone={API_ZONE} burst={limits.api_burst} nodelay;\n"
            f"        limit_conn {CONN_ZONE} {limits.connections_per_ip};\n")


def auth_location(limits: RateLimits) -> str:
    return f"        limit_req zone={AUTH_ZONE} burst={limits.login_burst} nodelay;\n" + api_location(limits)
