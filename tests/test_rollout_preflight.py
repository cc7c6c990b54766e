"""The rollout's checks, against real temporary environments: a tmp HOME with real credential files,
environment variables, unix sockets served from a tmp dir (silent, hanging up, and a small HTTP server
answering Docker's /_ping), and executables on a tmp PATH."""

from __future__ import annotations

import http.server
import json
import socket
import socketserver
import stat
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from rollout import credentials, docker_host, preflight, pulumi_cli
from rollout.answers import Answers
from rollout.errors import PreflightError
from rollout.stack_file import StackFile

CLEARED = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALICLOUD_ACCESS_KEY", "ALICLOUD_SECRET_KEY",
    "ALIBABACLOUD_ACCESS_KEY_ID", "ALIBABACLOUD_ACCESS_KEY_SECRET", "ALICLOUD_ECS_ROLE_NAME",
    "ALIBABA_CLOUD_ECS_METADATA", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
    "ALIBABA_CLOUD_ROLE_ARN", "ALICLOUD_CREDENTIALS_URI", "ALIBABA_CLOUD_CREDENTIALS_URI", "ALICLOUD_PROFILE",
    "ALIBABA_CLOUD_PROFILE", "ALICLOUD_SHARED_CREDENTIALS_FILE", "ALIBABA_CLOUD_CREDENTIALS_FILE",
    "KUBECONFIG", "KUBERNETES_SERVICE_HOST", "DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_TLS",
    "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE",
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HOME, no credential variables, and an empty PATH."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return home


def executable(directory: Path, name: str, script: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def failure(check) -> str:
    with pytest.raises(PreflightError) as raised:
        check()
    return str(raised.value)


# -- AWS ------------------------------------------------------------------------------------------

def test_aws_without_any_credentials_says_where_it_looked(home):
    message = failure(credentials.aws)
    assert "No AWS credentials" in message and "AWS_ACCESS_KEY_ID" in message and "AWS_PROFILE" in message
    assert str(home / ".aws" / "credentials") in message


def test_aws_key_pair_from_the_environment(home, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    assert "AWS_SECRET_ACCESS_KEY" in failure(credentials.aws)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret-value")
    found = credentials.aws()
    assert "AWS_ACCESS_KEY_ID" in found and "example-secret-value" not in found


def test_aws_default_profile_in_the_credentials_file(home):
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text("[default]\naws_access_key_id = x\naws_secret_access_key = y\n")
    assert "'default'" in credentials.aws()


def test_aws_named_profile_in_the_config_file(home, monkeypatch):
    (home / ".aws").mkdir()
    (home / ".aws" / "config").write_text(
        "[sso-session corp]\nsso_region = us-east-1\n\n[profile deploy]\nsso_session = corp\nregion = eu-west-1\n"
    )
    monkeypatch.setenv("AWS_PROFILE", "deploy")
    assert "'deploy'" in credentials.aws()
    monkeypatch.setenv("AWS_PROFILE", "corp")  # a section name, but an sso-session, not a profile
    assert "AWS_PROFILE is 'corp'" in failure(credentials.aws)


def test_aws_files_moved_by_environment_variables(home, tmp_path, monkeypatch):
    moved = tmp_path / "creds.ini"
    moved.write_text("[ci]\naws_access_key_id = x\naws_secret_access_key = y\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(moved))
    monkeypatch.setenv("AWS_PROFILE", "ci")
    assert "'ci'" in credentials.aws()


def test_aws_web_identity_needs_its_token_file(home, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/deploy")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(tmp_path / "missing-token"))
    assert "does not exist" in failure(credentials.aws)
    (tmp_path / "missing-token").write_text("eyJ")
    assert "web identity" in credentials.aws()


def test_aws_cli_must_be_on_path_for_the_eks_kubeconfig(home, tmp_path):
    assert "aws eks get-token" in failure(credentials.aws_cli)
    found = executable(tmp_path / "bin", "aws", "exit 0")
    assert credentials.aws_cli() == str(found)


# -- Alibaba Cloud --------------------------------------------------------------------------------

def test_alicloud_without_credentials(home):
    message = failure(credentials.alicloud)
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in message and "ALIBABA_CLOUD_PROFILE" in message


@pytest.mark.parametrize("key, secret", [
    ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
    ("ALICLOUD_ACCESS_KEY", "ALICLOUD_SECRET_KEY"),
])
def test_alicloud_access_key_pair(home, monkeypatch, key, secret):
    monkeypatch.setenv(key, "LTAI5tExampleExample")
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in failure(credentials.alicloud)
    monkeypatch.setenv(secret, "example-secret-value")
    assert "access key pair" in credentials.alicloud()


def test_alicloud_profile_in_the_cli_config(home, monkeypatch):
    (home / ".aliyun").mkdir()
    (home / ".aliyun" / "config.json").write_text(json.dumps({
        "current": "prod", "profiles": [{"name": "prod", "mode": "AK", "access_key_id": "x",
                                         "access_key_secret": "y", "region_id": "cn-hangzhou"}],
    }))
    assert "ALIBABA_CLOUD_PROFILE=<name>" in failure(credentials.alicloud)  # the file alone names no profile
    monkeypatch.setenv("ALIBABA_CLOUD_PROFILE", "prod")
    assert "'prod'" in credentials.alicloud()
    monkeypatch.setenv("ALIBABA_CLOUD_PROFILE", "staging")
    assert "'staging' is not in" in failure(credentials.alicloud)


def test_alicloud_ecs_role(home, monkeypatch):
    monkeypatch.setenv("ALICLOUD_ECS_ROLE_NAME", "dify-deployer")
    assert "RAM role" in credentials.alicloud()


# -- Kubernetes -----------------------------------------------------------------------------------

def test_kubeconfig_sources(home, tmp_path, monkeypatch):
    assert "No kubeconfig" in failure(lambda: credentials.kubeconfig({}))
    assert "stack's config" in credentials.kubeconfig({"kubernetes": {"kubeconfig": {"secure": "v1:abc"}}})
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nowhere"))
    assert "no such file" in failure(lambda: credentials.kubeconfig({}))
    monkeypatch.delenv("KUBECONFIG")
    (home / ".kube").mkdir()
    (home / ".kube" / "config").write_text("apiVersion: v1\nkind: Config\n")
    assert credentials.kubeconfig({}) == str(home / ".kube" / "config")


# -- Docker ---------------------------------------------------------------------------------------

class _DockerPing(http.server.BaseHTTPRequestHandler):
    api_version = "1.47"

    def do_GET(self) -> None:
        ok = self.path == "/_ping"
        self.send_response(200 if ok else 404)
        self.send_header("Api-Version", self.api_version)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(b"OK" if ok else b"page not found")

    def log_message(self, *args) -> None:
        pass


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, _ = super().get_request()
        return request, ("unix", 0)


class _TcpHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[socketserver.BaseServer]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _handler(version: str) -> type[_DockerPing]:
    return type("Ping", (_DockerPing,), {"api_version": version})


@pytest.fixture
def short_timeout(monkeypatch):
    monkeypatch.setattr(docker_host, "TIMEOUT_S", 0.2)


def test_docker_host_precedence(home, monkeypatch):
    assert docker_host.docker_host({}) == (docker_host.DEFAULT_HOST, [])
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    assert docker_host.docker_host({})[0] == "tcp://127.0.0.1:2375"
    stack = {"docker": {"host": "ssh://deploy@dify-host", "sshOpts": ["-p", "2222"]}}
    assert docker_host.docker_host(stack) == ("ssh://deploy@dify-host", ["-p", "2222"])


def test_docker_socket_missing(tmp_path):
    assert "No Docker socket" in failure(lambda: docker_host.check(f"unix://{tmp_path}/docker.sock"))


def test_docker_socket_nobody_listens_on(tmp_path):
    path = tmp_path / "stale.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # bound, never listening: what a crashed daemon leaves behind
    try:
        assert "Nothing accepts connections" in failure(lambda: docker_host.check(f"unix://{path}"))
    finally:
        stale.close()


def test_docker_socket_that_speaks_nothing(tmp_path, short_timeout):
    path = tmp_path / "silent.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.bind(str(path))
        silent.listen(1)  # accepts (the kernel queues the connection) and never answers
        message = failure(lambda: docker_host.check(f"unix://{path}"))
    assert "did not answer Docker's /_ping" in message


def test_docker_socket_that_hangs_up(tmp_path):
    path = tmp_path / "rude.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as rude:
        rude.bind(str(path))
        rude.listen(1)

        def hang_up() -> None:
            connection, _ = rude.accept()
            connection.close()

        thread = threading.Thread(target=hang_up, daemon=True)
        thread.start()
        message = failure(lambda: docker_host.check(f"unix://{path}"))
        thread.join(2)
    assert "does not answer like a Docker daemon" in message


def test_docker_daemon_answering_ping_on_a_unix_socket(tmp_path):
    path = tmp_path / "docker.sock"
    with serving(_UnixHTTPServer(str(path), _handler("1.47"))):
        assert docker_host.check(f"unix://{path}") == f"Docker at {path} (API 1.47)"


def test_docker_engine_too_old(tmp_path):
    path = tmp_path / "docker.sock"
    with serving(_UnixHTTPServer(str(path), _handler("1.43"))):
        message = failure(lambda: docker_host.check(f"unix://{path}"))
    assert "API 1.43" in message and "Docker Engine 25" in message


def test_docker_daemon_from_docker_host_over_tcp(home, monkeypatch):
    with serving(_TcpHTTPServer(("127.0.0.1", 0), _handler("1.51"))) as server:
        port = server.server_address[1]
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")
        host, ssh_opts = docker_host.docker_host({})
        assert docker_host.check(host, ssh_opts) == f"Docker at 127.0.0.1:{port} (API 1.51)"


def test_docker_over_ssh_runs_docker_through_the_ssh_client(home):
    assert "no `ssh` client" in failure(lambda: docker_host.check("ssh://deploy@dify-host"))
    assert docker_host.ssh_command("ssh://deploy@dify-host:2222", ["-i", "~/.ssh/deploy"]) == [
        "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-i", "~/.ssh/deploy", "-p", "2222",
        "deploy@dify-host", "docker", "version", "--format", "{{.Server.APIVersion}}",
    ]


# -- Pulumi CLI and backend -----------------------------------------------------------------------

def test_pulumi_cli_missing(home):
    assert "not installed or not on PATH" in failure(pulumi_cli.find)


@pytest.mark.parametrize("version, accepted", [("v3.0.0", False), ("v3.272.0", True)])
def test_pulumi_cli_version_checked_by_the_automation_api(home, tmp_path, version, accepted):
    # A stand-in that only answers `pulumi version`: the check under test is the SDK's own.
    executable(tmp_path / "bin", "pulumi", f'[ "$1" = version ] && echo {version}')
    if accepted:
        assert str(pulumi_cli.find().version) == version[1:]
    else:
        assert "Minimum version requirement failed" in failure(pulumi_cli.find)


def test_pulumi_cli_from_the_installer_directory(home):
    executable(home / ".pulumi" / "bin", "pulumi", '[ "$1" = version ] && echo v3.272.0')
    assert pulumi_cli.find().command == str(home / ".pulumi" / "bin" / "pulumi")


def test_passphrase_needed_only_for_self_managed_backends(home, monkeypatch):
    plain = StackFile(config={}, has_secrets=False, secrets_provider=None)
    assert "PULUMI_CONFIG_PASSPHRASE" in pulumi_cli.passphrase_problem("file:///home/me", plain)
    assert pulumi_cli.passphrase_problem("https://api.pulumi.com", plain) is None
    kms = StackFile(config={}, has_secrets=False, secrets_provider="awskms://alias/dify?region=us-east-1")
    assert pulumi_cli.passphrase_problem("s3://state-bucket", kms) is None
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "")  # an empty passphrase is a passphrase
    assert pulumi_cli.passphrase_problem("file:///home/me", plain) is None


# -- what runs for which target -------------------------------------------------------------------

def test_program_environment(tmp_path):
    assert "python3 -m venv venv" in failure(lambda: preflight.program_environment(tmp_path))
    executable(tmp_path / "venv" / "bin", "python", "exit 0")
    assert str(tmp_path / "venv") in preflight.program_environment(tmp_path)


def test_checks_per_target(home):
    empty = StackFile(config={}, has_secrets=False, secrets_provider=None)
    assert len(preflight.target_checks(Answers(target="docker"), empty)) == 1
    assert preflight.target_checks(Answers(target="docker"), empty, skip_docker=True) == []
    assert preflight.target_checks(Answers(target="aws"), empty) == [credentials.aws_cli, credentials.aws]
    assert preflight.target_checks(Answers(target="aws"), empty, skip_credentials=True) == [credentials.aws_cli]
    assert preflight.target_checks(Answers(target="alicloud"), empty, skip_credentials=True) == []
    [kubernetes] = preflight.target_checks(Answers(target="kubernetes"), empty)
    assert "No kubeconfig" in failure(kubernetes)
