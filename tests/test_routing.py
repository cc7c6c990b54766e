"""The rendered nginx and SSRF proxy configs: parsed, checked by the real programs, and exercised."""

import http.server
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import crossplane
import pytest

from components.dify import nginx, ssrf_proxy

# Upstream's docker/nginx/conf.d/default.conf.template (langgenius/dify 1.13.3): location -> service.
UPSTREAM_ROUTES = {
    "/console/api": "api", "/api": "api", "/v1": "api", "/files": "api", "/explore": "web",
    "/e/": "plugin_daemon", "/": "web", "/mcp": "api", "/triggers": "api",
}
ADDRESSES = {"api": "api:5001", "web": "web:3000", "plugin_daemon": "plugin-daemon:5002"}
# What 1.16.1's template (59b879d2) adds: /socket.io/ to api_websocket, /openapi to the api.
COLLABORATION = {"websocket": "api-websocket:5001", "extra_api_routes": ("/openapi",)}


def parse(text, tmp_path):
    path = tmp_path / "default.conf"
    path.write_text(text)
    payload = crossplane.parse(str(path), single=True, strict=False, check_ctx=False, check_args=False)
    assert payload["status"] == "ok", payload["errors"]
    return payload["config"][0]["parsed"]


def servers(parsed):
    return [d for d in parsed if d["directive"] == "server"]


def locations(server):
    found = {}
    for d in server["block"]:
        if d["directive"] == "location":
            found[" ".join(d["args"])] = {c["directive"]: c["args"] for c in d["block"]} | {
                "headers": {c["args"][0]: c["args"][1] for c in d["block"] if c["directive"] == "proxy_set_header"}
            }
    return found


def test_routes_match_upstream(tmp_path):
    (server,) = servers(parse(nginx.render(**ADDRESSES), tmp_path))
    routes = locations(server)
    for path, target in UPSTREAM_ROUTES.items():
        assert routes[path]["proxy_pass"] == [f"http://{ADDRESSES[target]}"], path
        assert routes[path]["proxy_buffering"] == ["off"]
        assert routes[path]["proxy_http_version"] == ["1.1"]
        assert routes[path]["proxy_read_timeout"] == ["3600s"]
        assert routes[path]["headers"]["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert routes["/e/"]["headers"]["Dify-Hook-Url"] == "$forwarded_proto://$host$request_uri"
    assert set(routes) == set(UPSTREAM_ROUTES) | {f"= {nginx.HEALTH_PATH}"}


def test_the_collaboration_route_upgrades_the_connection(tmp_path):
    parsed = parse(nginx.render(**ADDRESSES, **COLLABORATION), tmp_path)
    (server,) = servers(parsed)
    routes = locations(server)
    socket_io = routes["/socket.io/"]
    assert socket_io["proxy_pass"] == ["http://api-websocket:5001"]
    assert socket_io["headers"]["Upgrade"] == "$http_upgrade"
    assert socket_io["headers"]["Connection"] == "$connection_upgrade"
    assert routes["/openapi"]["proxy_pass"] == ["http://api:5001"]
    # Every other location keeps upstream connections alive instead.
    assert all(r["headers"]["Connection"] == "" for path, r in routes.items() if r.get("proxy_pass")
               and path != "/socket.io/")
    (upgrade_map,) = [d for d in parsed if d["directive"] == "map" and d["args"][0] == "$http_upgrade"]
    assert {(entry["directive"], *entry["args"]) for entry in upgrade_map["block"]} == {
        ("default", "upgrade"), ("", "close")}
    rendered = nginx.render(**ADDRESSES, **COLLABORATION)
    assert "127.0.0.11" not in rendered and "resolver" not in rendered, "Docker's resolver does not exist on Kubernetes"


def test_without_collaboration_there_is_no_socket_route(tmp_path):
    (server,) = servers(parse(nginx.render(**ADDRESSES), tmp_path))
    assert "/socket.io/" not in locations(server) and "/openapi" not in locations(server)


def test_tls_redirects_http_and_serves_the_routes(tmp_path):
    plain, secure = servers(parse(nginx.render(**ADDRESSES, tls=True, body_limit="1G"), tmp_path))
    assert locations(plain)["/"]["return"] == ["301", "https://$host$request_uri"]
    directives = {d["directive"]: d["args"] for d in secure["block"]}
    assert directives["listen"] == ["8443", "ssl"]
    assert directives["ssl_certificate"] == ["/etc/nginx/tls/tls.crt"]
    assert directives["client_max_body_size"] == ["1G"]
    assert set(locations(secure)) >= set(UPSTREAM_ROUTES)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{self.server.label} {self.path} {self.headers.get('Dify-Hook-Url', '-')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


@contextmanager
def backends(labels):
    servers_ = {}
    for label in labels:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
        server.label = label
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers_[label] = server
    try:
        yield {label: f"127.0.0.1:{s.server_address[1]}" for label, s in servers_.items()}
    finally:
        for s in servers_.values():
            s.shutdown()


def _nginx_binary():
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(path).exists(), "nginx is needed for this test: .ci/run installs it (apt-get install nginx-light)"
    return path


def _wrap(server_conf: str, prefix: Path, port: int, tls_port: int) -> str:
    version = subprocess.run([_nginx_binary(), "-v"], capture_output=True, text=True).stderr
    major, minor, _ = map(int, re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", version).groups())
    if (major, minor) < (1, 25):
        # `http2 on;` arrived in nginx 1.25.1; the image runs 1.30, the test host may be older.
        server_conf = server_conf.replace("    http2 on;\n", "")
    server_conf = server_conf.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    server_conf = server_conf.replace("listen 8443 ssl;", f"listen 127.0.0.1:{tls_port} ssl;")
    server_conf = server_conf.replace("/etc/nginx/tls", str(prefix))
    return (
        f"pid {prefix}/nginx.pid;\nerror_log stderr warn;\nevents {{}}\n"
        f"http {{\n access_log off;\n{server_conf}\n}}\n"
    )


def _self_signed(prefix: Path):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=dify.test",
         "-keyout", str(prefix / "tls.key"), "-out", str(prefix / "tls.crt")],
        check=True, capture_output=True,
    )


@pytest.mark.parametrize("tls", [False, True])
def test_nginx_accepts_the_config_and_routes_requests(tmp_path, tls):
    with backends(["api", "web", "plugin_daemon"]) as addresses:
        port, tls_port = _free_port(), _free_port()
        conf = tmp_path / "nginx.conf"
        if tls:
            _self_signed(tmp_path)
        conf.write_text(_wrap(nginx.render(**addresses, tls=tls), tmp_path, port, tls_port))
        check = subprocess.run([_nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        proc = subprocess.Popen([_nginx_binary(), "-p", str(tmp_path), "-c", str(conf), "-e", "stderr",
                                 "-g", "daemon off;"], stderr=subprocess.PIPE, text=True)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for(f"{base}{nginx.HEALTH_PATH}")
            if tls:
                redirect = _no_redirect_get(f"{base}/console/api/setup")
                assert redirect == (301, "https://127.0.0.1/console/api/setup")
                insecure = ssl.create_default_context()
                insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
                body = urllib.request.urlopen(f"https://127.0.0.1:{tls_port}/console/api/setup",
                                              context=insecure, timeout=5).read().decode()
                assert body.startswith("api /console/api/setup")
                return
            expected = {
                "/console/api/setup": "api", "/api/passport": "api", "/v1/chat-messages": "api",
                "/files/abc/file-preview": "api", "/mcp/server/x/mcp": "api", "/triggers/webhook/x": "api",
                "/explore/apps": "web", "/apps": "web", "/install": "web", "/": "web",
                "/e/hook123/run": "plugin_daemon",
            }
            for path, label in expected.items():
                body = urllib.request.urlopen(f"{base}{path}", timeout=5).read().decode()
                assert body.split(" ")[:2] == [label, path], (path, body)
            hook = urllib.request.urlopen(f"{base}/e/hook123/run?x=1", timeout=5).read().decode()
            assert hook.endswith("http://127.0.0.1/e/hook123/run?x=1")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_nginx_upgrades_socket_io_to_a_websocket_backend(tmp_path):
    from websockets.sync.client import connect
    from websockets.sync.server import serve

    def echo(connection):
        for message in connection:
            connection.send(f"{connection.request.path} {message}")

    with serve(echo, "127.0.0.1", 0) as ws_server, backends(["api", "web", "plugin_daemon"]) as addresses:
        threading.Thread(target=ws_server.serve_forever, daemon=True).start()
        ws_address = f"127.0.0.1:{ws_server.socket.getsockname()[1]}"
        port = _free_port()
        conf = tmp_path / "nginx.conf"
        conf.write_text(_wrap(nginx.render(**addresses, websocket=ws_address, extra_api_routes=("/openapi",)),
                              tmp_path, port, _free_port()))
        proc = subprocess.Popen([_nginx_binary(), "-p", str(tmp_path), "-c", str(conf), "-e", "stderr",
                                 "-g", "daemon off;"], stderr=subprocess.PIPE, text=True)
        try:
            _wait_for(f"http://127.0.0.1:{port}{nginx.HEALTH_PATH}")
            with connect(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", open_timeout=5) as ws:
                ws.send("hello")
                assert ws.recv(timeout=5) == "/socket.io/?EIO=4&transport=websocket hello"
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi/spec", timeout=5).read().decode()
            assert body.startswith("api /openapi/spec")
            # The api's keep-alive route does not upgrade: a websocket handshake there fails.
            with pytest.raises(Exception):
                with connect(f"ws://127.0.0.1:{port}/console/api/ws", open_timeout=5):
                    pass
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            ws_server.shutdown()


def _wait_for(url):
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _no_redirect_get(url):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(url, timeout=5)
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Location"]
    raise AssertionError("expected a redirect")


def _squid_binary():
    path = shutil.which("squid") or "/usr/sbin/squid"
    assert Path(path).exists(), "squid is needed for this test: .ci/run installs it (apt-get install squid)"
    return path


def test_squid_accepts_the_config(tmp_path):
    conf = tmp_path / "squid.conf"
    conf.write_text(ssrf_proxy.render("127.0.0.1", 8194, 3128, allowed_private=["192.168.10.0/24"]))
    result = subprocess.run([_squid_binary(), "-k", "parse", "-f", str(conf)], capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not re.search(r"ERROR|FATAL|WARNING|Bungled", output), output


def test_squid_accepts_the_agent_proxy_config(tmp_path):
    conf = tmp_path / "squid.conf"
    conf.write_text(ssrf_proxy.render(None, None, 3128, internal_paths=(("agent-backend", "/agent-stub/"),
                                                                        ("api", "/files/"))))
    result = subprocess.run([_squid_binary(), "-k", "parse", "-f", str(conf)], capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not re.search(r"ERROR|FATAL|WARNING|Bungled", output), output


def test_agent_proxy_rules():
    lines = ssrf_proxy.render(None, None, 3128, internal_paths=(("agent-backend", "/agent-stub/"),
                                                                ("api", "/files/"))).splitlines()
    access = [line for line in lines if line.startswith("http_access")]
    assert "acl internal_host_0 dstdomain agent-backend" in lines
    assert "acl internal_path_0 urlpath_regex -i ^/agent-stub/" in lines
    assert "acl internal_path_1 urlpath_regex -i ^/files/" in lines
    deny_private = access.index("http_access deny private_dst")
    assert access.index("http_access allow internal_host_0 internal_path_0 localnet") < deny_private
    assert access.index("http_access allow internal_host_1 internal_path_1 localnet") < deny_private
    assert access[-1] == "http_access deny all"
    assert not any("sandbox_accel" in line or "cache_peer" in line for line in lines), "no way in to the sandbox"


def test_ssrf_proxy_rules():
    lines = ssrf_proxy.render("sandbox", 8194, 3128).splitlines()
    access = [line for line in lines if line.startswith("http_access")]
    assert access[-1] == "http_access deny all"
    assert access.index("http_access deny private_dst") < access.index("http_access allow localnet")
    assert "169.254.0.0/16" in next(line for line in lines if line.startswith("acl private_dst"))
    assert "http_access deny CONNECT !SSL_ports" in access
    assert "http_port 3128" in lines
    assert "http_port 8194 accel vhost name=sandbox_accel" in lines
    assert "cache_peer sandbox parent 8194 0 no-query originserver name=sandbox" in lines
