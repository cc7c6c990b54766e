"""The SSRF proxy (squid): the only way out for the sandbox, and for the api's outbound requests.

It follows upstream's squid.conf.template (safe ports, CONNECT only to 443, a reverse port in front
of the sandbox) and adds one thing upstream leaves to the operator: requests to private, link-local
and loopback addresses (cloud metadata endpoints among them) are refused, which is the point of an
SSRF proxy. Networks in `allowed_private` are let through on purpose (e.g. an internal model server).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional

from components.workload import ConfigFile

CONFIG_PATH = "/etc/squid/squid.conf"

PRIVATE_NETWORKS = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.168.0.0/16", "::1", "fc00::/7", "fe80::/10",
)
SAFE_PORTS = ("80", "21", "443", "70", "210", "1025-65535", "280", "488", "591", "777")


def render(sandbox_host: Optional[str], sandbox_port: Optional[int], proxy_port: int,
           allowed_private: Sequence[str] = (), internal_paths: Sequence[tuple[str, str]] = ()) -> str:
    """Without `sandbox_host` the proxy is only a way out (the agent's local sandbox needs no way in).
    `internal_paths`: (host, path prefix) pairs inside the deployment that clients may reach through
    the proxy although they are private (upstream's agent proxy: the backend's /agent-stub/ and the
    api's /files/)."""
    reverse = sandbox_host is not None and sandbox_port is not None
    lines = [
        "# Rendered by the Dify deployment; do not edit on the host.",
        "acl localnet src " + " ".join(PRIVATE_NETWORKS),
        "acl private_dst dst " + " ".join(PRIVATE_NETWORKS),
        "acl SSL_ports port 443",
        "acl Safe_ports port " + " ".join(SAFE_PORTS),
        "acl CONNECT method CONNECT",
    ]
    if reverse:
        lines.append("acl sandbox_accel myportname sandbox_accel")
    if allowed_private:
        lines.append("acl allowed_private dst " + " ".join(allowed_private))
    for index, (host, prefix) in enumerate(internal_paths):
        lines += [f"acl internal_host_{index} dstdomain {host}",
                  f"acl internal_path_{index} urlpath_regex -i ^{_regex_literal(prefix)}"]
    if reverse:
        lines += ["", "# Reverse proxy to the sandbox, reachable only from inside the deployment.",
                  "http_access allow sandbox_accel localnet"]
    lines += [
        "",
        "http_access deny !Safe_ports",
        "http_access deny CONNECT !SSL_ports",
        "http_access deny manager",
    ]
    for index in range(len(internal_paths)):
        lines.append(f"http_access allow internal_host_{index} internal_path_{index} localnet")
    if allowed_private:
        lines.append("http_access allow allowed_private localnet")
    lines += [
        "http_access deny private_dst",
        "http_access allow localnet",
        "http_access allow localhost",
        "http_access deny all",
        "",
        f"http_port {proxy_port}",
    ]
    if reverse:
        lines += [
            f"http_port {sandbox_port} accel vhost name=sandbox_accel",
            f"cache_peer {sandbox_host} parent {sandbox_port} 0 no-query originserver name=sandbox",
            "cache_peer_access sandbox allow sandbox_accel",
            "cache_peer_access sandbox deny all",
            "never_direct allow sandbox_accel",
        ]
    lines += [
        "",
        "cache deny all",
        "coredump_dir /tmp",
        "netdb_filename none",
        "client_request_buffer_max_size 100 MB",
        "logfile_rotate 0",
        "cache_log /dev/stderr",
        "access_log stdio:/dev/stdout",
        "pid_filename /tmp/squid.pid",
        "",
    ]
    return "\n".join(lines)


def _regex_literal(text: str) -> str:
    """`text` matched literally by squid's POSIX regular expressions."""
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text)


def config_file(sandbox_host: Optional[str], sandbox_port: Optional[int], proxy_port: int,
                allowed_private: Sequence[str] = (), internal_paths: Sequence[tuple[str, str]] = ()) -> ConfigFile:
    return ConfigFile(path=CONFIG_PATH,
                      content=render(sandbox_host, sandbox_port, proxy_port, allowed_private, internal_paths))
