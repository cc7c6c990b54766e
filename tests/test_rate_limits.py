"""nginx's per-client limits: the rendered directives, the real nginx's check of them, and live requests
against stand-in upstreams (a client over the limit gets 429, another client behind the same trusted proxy
does not; streamed answers outlive the sign-in routes' short timeout and keep their connection slots)."""

import http.server
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import replace

import pytest

from components.dify import nginx, rate_limits
from components.dify.rate_limits import RateLimits
from tests.test_routing import ADDRESSES, UPSTREAM_ROUTES, _free_port, _nginx_binary, _self_signed, _wait_for, _wrap, \
    locations, parse, servers

LIMITS = rate_limits.PRESETS["production"]
STREAM_GAP_S = 1.3  # longer than the sign-in routes' timeout in the live test
LIVE = RateLimits(api_rps=1000, api_burst=1000, login_rpm=1, login_burst=2, connections_per_ip=2,
                  auth_read_timeout_s=1)


def _directives(block):
    found = {}
    for d in block:
        found.setdefault(d["directive"], []).append(d["args"])
    return found


def test_api_routes_are_limited_per_client_and_sign_in_more_strictly(tmp_path):
    parsed = parse(nginx.render(**ADDRESSES, limits=LIMITS), tmp_path)
    top = _directives(parsed)
    assert ["$binary_remote_addr", "zone=dify_api:10m", "rate=30r/s"] in top["limit_req_zone"]
    assert ["$binary_remote_addr", "zone=dify_auth:5m", "rate=10r/m"] in top["limit_req_zone"]
    assert top["limit_conn_zone"] == [["$binary_remote_addr", "zone=dify_conn:10m"]]
    assert top["limit_req_status"] == [["429"]] and top["limit_conn_status"] == [["429"]]
    assert "set_real_ip_from" not in top, "without a proxy in front, no client may name another"
    (server,) = servers(parsed)
    routes = {path: _directives(next(d["block"] for d in server["block"] if d["directive"] == "location"
                                     and " ".join(d["args"]) == path)) for path in locations(server)}
    for path, target in UPSTREAM_ROUTES.items():
        limited = "limit_req" in routes[path]
        assert limited == (target == "api"), path
        if limited:
            assert routes[path]["limit_req"] == [["zone=dify_api", "burst=90", "nodelay"]]
            assert routes[path]["limit_conn"] == [["dify_conn", "100"]]
            assert routes[path]["proxy_read_timeout"] == [["3600s"]], "streamed answers keep an hour"
    for path in rate_limits.AUTH_ROUTES:
        assert routes[path]["proxy_pass"] == [["http://api:5001"]]
        assert routes[path]["limit_req"] == [["zone=dify_auth", "burst=5", "nodelay"],
                                             ["zone=dify_api", "burst=90", "nodelay"]]
        assert routes[path]["proxy_read_timeout"] == [["60s"]]
    assert routes["@too_many_requests"]["return"][0][0] == "429"


def test_without_limits_nothing_is_limited(tmp_path):
    rendered = nginx.render(**ADDRESSES)
    assert "limit_" not in rendered and "/console/api/login" not in rendered


def test_behind_a_proxy_the_client_comes_from_x_forwarded_for(tmp_path):
    parsed = parse(nginx.render(**ADDRESSES, behind_proxy=True, limits=LIMITS,
                                trusted_proxies=rate_limits.PRIVATE_RANGES), tmp_path)
    top = _directives(parsed)
    assert top["set_real_ip_from"] == [[cidr] for cidr in rate_limits.PRIVATE_RANGES]
    assert top["real_ip_header"] == [["X-Forwarded-For"]] and top["real_ip_recursive"] == [["on"]]


@pytest.mark.parametrize("tls", [False, True])
def test_nginx_accepts_the_limited_config(tmp_path, tls):
    if tls:
        _self_signed(tmp_path)
    conf = tmp_path / "nginx.conf"
    local = {name: "127.0.0.1:9" for name in ADDRESSES}
    conf.write_text(_wrap(nginx.render(**local, tls=tls, behind_proxy=True, limits=LIMITS,
                                       trusted_proxies=rate_limits.PRIVATE_RANGES,
                                       websocket="127.0.0.1:9", extra_api_routes=("/openapi",)),
                          tmp_path, _free_port(), _free_port()))
    check = subprocess.run([_nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


class _Upstream(http.server.BaseHTTPRequestHandler):
    """/…/slow answers after two seconds; /v1/chat-messages streams two events STREAM_GAP_S apart."""

    def do_POST(self):
        if self.path.endswith("/slow"):
            time.sleep(2)
        if self.path.startswith("/v1/chat-messages"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for n in range(3):
                if n:
                    time.sleep(STREAM_GAP_S)
                self.wfile.write(f"data: {n}\n\n".encode())
                self.wfile.flush()
            return
        body = json.dumps({"path": self.path, "xff": self.headers.get("X-Forwarded-For")}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def _nginx(tmp_path, trusted, limits=LIVE):
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    address = f"127.0.0.1:{upstream.server_address[1]}"
    port = _free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(_wrap(nginx.render(address, address, address, behind_proxy=bool(trusted), limits=limits,
                                       trusted_proxies=trusted), tmp_path, port, _free_port()))
    proc = subprocess.Popen([_nginx_binary(), "-p", str(tmp_path), "-c", str(conf), "-e", "stderr",
                             "-g", "daemon off;"], stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(f"http://127.0.0.1:{port}{nginx.HEALTH_PATH}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        upstream.shutdown()
        upstream.server_close()


def _post(url, client=None, timeout=10, headers=None):
    request = urllib.request.Request(url, data=b"{}", method="POST",
                                     headers={**({"X-Forwarded-For": client} if client else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers


def _until_refused(url, client=None):
    for attempt in range(1, 10):
        status, body, headers = _post(url, client)
        if status != 200:
            return attempt, status, body, headers
    raise AssertionError("never refused")


def test_a_client_over_the_sign_in_limit_gets_429_and_others_behind_the_same_proxy_do_not(tmp_path):
    with _nginx(tmp_path, trusted=("127.0.0.1/32",)) as base:
        login = f"{base}/console/api/login"
        attempt, status, body, headers = _until_refused(login, "203.0.113.7")
        assert (attempt, status) == (LIVE.login_burst + 2, 429)
        assert json.loads(body)["code"] == "too_many_requests" and headers["Retry-After"] == "1"
        # The same proxy, another client: its own budget.
        status, body, _ = _post(login, "198.51.100.20")
        assert status == 200 and json.loads(body)["xff"].startswith("198.51.100.20")
        # A client that prepends an address of its choice is still itself (the rightmost untrusted hop).
        assert _post(login, "198.51.100.99, 203.0.113.7")[0] == 429


def test_behind_cloudfront_each_viewer_has_its_own_budget_not_the_edge(tmp_path):
    """Through CloudFront and the ALB, X-Forwarded-For ends in CloudFront's edge address: many viewers
    share one edge, so the zones count by CloudFront-Viewer-Address (`address:port`) instead."""
    behind_cloudfront = replace(LIVE, viewer_address_header="CloudFront-Viewer-Address")
    with _nginx(tmp_path, trusted=("127.0.0.1/32",), limits=behind_cloudfront) as base:
        login, edge = f"{base}/console/api/login", "130.176.0.10"

        def viewer(address, port):
            return _post(login, f"{address}, {edge}", headers={"CloudFront-Viewer-Address": f"{address}:{port}"})[0]

        statuses = [viewer("203.0.113.7", 40000 + n) for n in range(LIVE.login_burst + 2)]
        assert statuses == [200] * (LIVE.login_burst + 1) + [429], "one viewer, new ports: still one client"
        assert viewer("198.51.100.20", 40000) == 200, "another viewer through the same edge"
        assert viewer("2001:db8::7", 40000) == 200 and viewer("2001:db8::8", 40000) == 200


def test_untrusted_senders_cannot_name_another_client(tmp_path):
    with _nginx(tmp_path, trusted=("10.0.0.0/8",)) as base:
        login = f"{base}/console/api/email-code-login"
        statuses = [_post(login, f"203.0.113.{n}")[0] for n in range(LIVE.login_burst + 2)]
        assert statuses == [200] * (LIVE.login_burst + 1) + [429]


def test_streams_outlive_the_short_timeout_and_hold_their_connection_slots(tmp_path):
    with _nginx(tmp_path, trusted=("127.0.0.1/32",)) as base:
        streamed: dict[int, tuple] = {}

        def stream(n):
            started = time.monotonic()
            streamed[n] = (*_post(f"{base}/v1/chat-messages", "203.0.113.50")[:2], time.monotonic() - started)

        threads = [threading.Thread(target=stream, args=(n,)) for n in range(LIVE.connections_per_ip)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        # Both of this client's slots are taken by its streams; another client is not affected.
        assert _post(f"{base}/v1/parameters", "203.0.113.50")[0] == 429
        assert _post(f"{base}/v1/parameters", "203.0.113.51")[0] == 200
        # The sign-in routes give up on a stuck upstream after their short timeout.
        started = time.monotonic()
        assert _post(f"{base}/console/api/login/slow", "203.0.113.52")[0] == 504
        assert time.monotonic() - started < 1.9
        for thread in threads:
            thread.join(timeout=10)
        for status, body, took in streamed.values():
            assert status == 200 and body == "data: 0\n\ndata: 1\n\ndata: 2\n\n"
            assert took > 2 * STREAM_GAP_S > 2 * LIVE.auth_read_timeout_s


def _nginx_conf(run):
    from tools.mocks import manifests
    (conf,) = [m["data"]["default.conf"] for m in manifests(run)
               if m["kind"] == "ConfigMap" and "default.conf" in m.get("data", {})]
    return conf


def test_the_program_sizes_the_limits_and_trusts_only_the_proxy_in_front():
    from tests.change_plan import cached_run
    from tools.mocks import manifest

    behind_alb = _nginx_conf(cached_run("prod", {}))
    assert "rate=30r/s" in behind_alb and "rate=10r/m" in behind_alb
    assert "set_real_ip_from 10.0.0.0/8;" in behind_alb and "real_ip_header X-Forwarded-For;" in behind_alb
    k8s = cached_run("k8s", {})
    direct = _nginx_conf(k8s)
    assert "rate=100r/s" in direct and "set_real_ip_from" not in direct
    (entry,) = [manifest(r) for r in k8s.of_type("kubernetes:core/v1:Service")
                if manifest(r)["spec"].get("type") == "LoadBalancer"]
    assert entry["spec"]["externalTrafficPolicy"] == "Local", "packets keep the client's address"
    tuned = _nginx_conf(cached_run("k8s", {"nginx": {"rateLimit": {"apiRps": 7, "connectionsPerIp": 40},
                                                     "trustedProxies": ["192.0.2.0/24"]}}))
    assert "rate=7r/s" in tuned and "limit_conn dify_conn 40;" in tuned
    assert "set_real_ip_from 192.0.2.0/24;" in tuned and "10.0.0.0/8" not in tuned
    assert "CloudFront-Viewer-Address".lower().replace("-", "_") not in behind_alb
    cdn = _nginx_conf(cached_run("prod", {"edge": {"cdn": True}}))
    assert "map $http_cloudfront_viewer_address $dify_client" in cdn
    assert "limit_req_zone $dify_client zone=dify_auth" in cdn and "limit_conn_zone $dify_client" in cdn
    off = _nginx_conf(cached_run("k8s", {"nginx": {"rateLimit": {"enabled": False}}}))
    assert "limit_req" not in off
