"""The Docker health-check commands, run for real against a local stand-in of each service."""

import http.server
import subprocess
import threading

import pytest

from tools.mocks import run_program

CONTAINER = "docker:index/container:Container"


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status = 200 if self.path in self.server.healthy_paths else 503
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def dev():
    return run_program("dev")


@pytest.mark.parametrize(("service", "port", "path"), [
    ("api", 5001, "/health"), ("web", 3000, "/apps"), ("plugin-daemon", 5002, "/health/check"),
    ("sandbox", 8194, "/health"),
])
def test_health_command_passes_when_healthy_and_fails_otherwise(dev, service, port, path):
    test = dev.named(CONTAINER, f"dify-dev-{service}").plain["healthcheck"]["tests"]
    assert test[0] == "CMD"
    for healthy in (True, False):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
        server.healthy_paths = {path} if healthy else set()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            local = f"127.0.0.1:{server.server_address[1]}"
            argv = [arg.replace(f"127.0.0.1:{port}", local) for arg in test[1:]]
            result = subprocess.run(argv, capture_output=True, timeout=20)
            assert (result.returncode == 0) is healthy, (service, healthy, result.stderr)
        finally:
            server.shutdown()
