"""Is the Docker daemon the docker target deploys to there, and new enough?

The host is the stack's `docker.host`, else DOCKER_HOST, else the local socket: the order the
program's Docker provider uses. A unix socket or tcp:// host is asked Docker's `GET /_ping`, which
answers `OK` with the engine's API version in a header. An ssh:// host is reached the way the provider
reaches it, with the `ssh` client: `ssh <docker.sshOpts> user@host docker version` run
non-interactively (the provider cannot answer a password or host-key prompt either).
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import ssl
import subprocess
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence
from urllib.parse import urlsplit

from rollout.errors import PreflightError

DEFAULT_HOST = "unix:///var/run/docker.sock"
# Health checks use `start_interval`, which needs Docker Engine 25 (API 1.44).
MINIMUM_API = (1, 44)
TIMEOUT_S = 5.0


def docker_host(stack_config: Mapping[str, Any], env: Mapping[str, str] = os.environ) -> tuple[str, list[str]]:
    """The Docker host URL the program will use, and the stack's extra ssh options."""
    docker = stack_config.get("docker") if isinstance(stack_config.get("docker"), dict) else {}
    return docker.get("host") or env.get("DOCKER_HOST") or DEFAULT_HOST, list(docker.get("sshOpts") or [])


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def _api_version(text: Optional[str]) -> Optional[tuple[int, int]]:
    try:
        major, minor = (text or "").strip().split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return None


def _require_api(where: str, version: Optional[tuple[int, int]]) -> str:
    if version is None:
        return f"Docker at {where}"
    if version < MINIMUM_API:
        raise PreflightError(
            f"The Docker Engine at {where} speaks API {version[0]}.{version[1]}; this deployment needs "
            f"{MINIMUM_API[0]}.{MINIMUM_API[1]} (Docker Engine 25 or newer). Upgrade Docker on that host."
        )
    return f"Docker at {where} (API {version[0]}.{version[1]})"


def _tls_context(env: Mapping[str, str]) -> ssl.SSLContext:
    cert_dir = Path(env.get("DOCKER_CERT_PATH") or Path.home() / ".docker")
    context = ssl.create_default_context(cafile=str(cert_dir / "ca.pem") if (cert_dir / "ca.pem").exists() else None)
    if not env.get("DOCKER_TLS_VERIFY"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if (cert_dir / "cert.pem").exists():
        context.load_cert_chain(cert_dir / "cert.pem", cert_dir / "key.pem")
    return context


def _ping(connection: http.client.HTTPConnection, where: str) -> str:
    try:
        connection.request("GET", "/_ping", headers={"Connection": "close"})
        response = connection.getresponse()
        body = response.read(64)
    except FileNotFoundError:
        raise PreflightError(f"No Docker socket at {where}: is Docker installed and running?") from None
    except PermissionError:
        raise PreflightError(
            f"Permission denied on {where}: add your user to the `docker` group (then log in again) "
            "or run with access to the socket."
        ) from None
    except ConnectionRefusedError:
        raise PreflightError(f"Nothing accepts connections at {where}: is the Docker daemon running?") from None
    except (TimeoutError, socket.timeout):
        raise PreflightError(
            f"{where} accepted the connection but did not answer Docker's /_ping within {TIMEOUT_S:.0f} s: "
            "it is not a Docker daemon, or the daemon is hung."
        ) from None
    except (http.client.HTTPException, ConnectionError, ssl.SSLError) as error:
        raise PreflightError(f"{where} does not answer like a Docker daemon ({type(error).__name__}).") from None
    except OSError as error:
        raise PreflightError(f"Cannot reach Docker at {where}: {error.strerror or error}.") from None
    finally:
        connection.close()
    if response.status != 200 or body.strip() != b"OK":
        raise PreflightError(f"{where} answered /_ping with HTTP {response.status}, not Docker's OK.")
    return _require_api(where, _api_version(response.getheader("Api-Version")))


def ssh_command(host: str, ssh_opts: Sequence[str]) -> list[str]:
    parts = urlsplit(host)
    target = f"{parts.username}@{parts.hostname}" if parts.username else str(parts.hostname)
    port = ["-p", str(parts.port)] if parts.port else []
    return ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={TIMEOUT_S:.0f}", *ssh_opts, *port, target,
            "docker", "version", "--format", "{{.Server.APIVersion}}"]


def _check_ssh(host: str, ssh_opts: Sequence[str], env: Mapping[str, str]) -> str:
    if shutil.which("ssh", path=env.get("PATH")) is None:
        raise PreflightError(f"docker.host is {host}, but there is no `ssh` client on PATH to reach it.")
    try:
        done = subprocess.run(ssh_command(host, ssh_opts), capture_output=True, text=True,
                              timeout=TIMEOUT_S * 4, env=dict(env))
    except subprocess.TimeoutExpired:
        raise PreflightError(f"`ssh` to {host} did not finish within {TIMEOUT_S * 4:.0f} s.") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise PreflightError(
            f"`ssh` to {host} failed ({last}). The deployment connects the same way, without prompts: "
            "use key-based login, accept the host key once (`ssh` to it by hand), and make sure the user "
            "may run `docker` (the `docker` group)."
        )
    return _require_api(host, _api_version(done.stdout))


def check(host: str, ssh_opts: Sequence[str] = (), env: Mapping[str, str] = os.environ) -> str:
    """What answered at `host`; raises PreflightError when Docker is not reachable or too old."""
    scheme = host.split("://", 1)[0] if "://" in host else ""
    if scheme == "unix":
        path = host.split("://", 1)[1]
        return _ping(_UnixConnection(path, TIMEOUT_S), path)
    if scheme == "tcp":
        parts = urlsplit(host)
        tls = bool(env.get("DOCKER_TLS_VERIFY") or env.get("DOCKER_TLS"))
        port = parts.port or (2376 if tls else 2375)
        connection = (http.client.HTTPSConnection(parts.hostname, port, timeout=TIMEOUT_S, context=_tls_context(env))
                      if tls else http.client.HTTPConnection(parts.hostname, port, timeout=TIMEOUT_S))
        return _ping(connection, f"{parts.hostname}:{port}")
    if scheme == "ssh":
        return _check_ssh(host, ssh_opts, env)
    raise PreflightError(f"{host}: only unix://, tcp:// and ssh:// Docker hosts can be checked here; "
                         "pass --skip-docker-check to go on without the check.")
