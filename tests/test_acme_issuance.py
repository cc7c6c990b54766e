"""The Docker host's ACME certificate, end to end on this machine: what the program renders for nginx, the
placeholder step and the ACME container runs as local processes (paths remapped to a temporary directory)
against pebble, Let's Encrypt's ACME test server, which validates HTTP-01 over the network against the
real nginx serving the rendered challenge location. Then nginx must serve the issued certificate after the
rendered reload script noticed it, keep it while it is not due, and serve the renewed one once it is."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import dns.message
import dns.rdatatype
import dns.rrset
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from components import acme
from tests import acme_tools
from tests.change_plan import cached_run

DOMAIN = "dify.acme.test"
CONTAINER = "docker:index/container:Container"
# Paths inside the containers -> directories of the test.
MOUNTS = {
    acme.CONFIG_DIR: "le", acme.WEBROOT: "webroot", acme.WORK_DIR: "work", acme.LOGS_DIR: "logs",
    acme.SCRIPT_DIR: "scripts", "/docker-entrypoint.d": "entrypoint.d",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answer(data: bytes) -> bytes:
    query = dns.message.from_wire(data)
    response = dns.message.make_response(query)
    for question in query.question:
        if question.rdtype == dns.rdatatype.A:
            response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", "127.0.0.1"))
    return response.to_wire()


def _serve_udp(sock: socket.socket) -> None:
    while True:
        try:
            data, peer = sock.recvfrom(4096)
        except OSError:
            return
        if not data:  # the socket was shut down
            return
        sock.sendto(_answer(data), peer)


def _serve_tcp(listener: socket.socket) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            while len(head := conn.recv(2)) == 2:
                data = b""
                while len(data) < int.from_bytes(head, "big"):
                    data += conn.recv(int.from_bytes(head, "big") - len(data))
                reply = _answer(data)
                conn.sendall(len(reply).to_bytes(2, "big") + reply)


@contextmanager
def _dns_server():
    """Every name is 127.0.0.1, over UDP and TCP on one port (pebble resolves the domain it validates here)."""
    while True:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        tcp = socket.socket()
        try:
            tcp.bind(udp.getsockname())
            break
        except OSError:
            udp.close()
            tcp.close()
    tcp.listen()
    for target, sock in ((_serve_udp, udp), (_serve_tcp, tcp)):
        threading.Thread(target=target, args=(sock,), daemon=True).start()
    try:
        yield udp.getsockname()[1]
    finally:
        for sock in (udp, tcp):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def _uploads(container) -> dict[str, str]:
    return {u["file"]: u["content"] for u in container.plain.get("uploads") or []}


class Host:
    """The containers' files on this machine."""

    def __init__(self, root: Path, ports: dict[str, int]):
        self.root, self.ports = root, ports
        for sub in MOUNTS.values():
            (root / sub).mkdir()

    def remap(self, text: str) -> str:
        for inside, sub in MOUNTS.items():
            text = text.replace(inside, str(self.root / sub))
        return text

    def write(self, path: str, content: str) -> Path:
        local = Path(self.remap(path))
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(self.remap(content))
        return local

    def nginx_conf(self, server_conf: str) -> Path:
        server_conf = self.remap(server_conf).replace("    http2 on;\n", "")
        server_conf = server_conf.replace("listen 8080;", f"listen 127.0.0.1:{self.ports['http']};")
        server_conf = server_conf.replace("listen 8443 ssl;", f"listen 127.0.0.1:{self.ports['https']} ssl;")
        # Nothing behind nginx here: only the certificate and the challenge location are exercised.
        server_conf = re.sub(r"proxy_pass http://[^;]+;", "proxy_pass http://127.0.0.1:9;", server_conf)
        user = "user root;\n" if os.geteuid() == 0 else ""  # the workers read the test's private directories
        path = self.root / "nginx.conf"
        path.write_text(f"{user}pid {self.root}/nginx.pid;\nerror_log stderr warn;\nevents {{}}\n"
                        f"http {{\n access_log off;\n{server_conf}\n}}\n")
        return path


def _served_certificate(port: int) -> bytes:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=DOMAIN) as tls:
            return tls.getpeercert(binary_form=True)


def _leaf(path: Path) -> bytes:
    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)


def _wait_until_served(port: int, expected: bytes, what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while _served_certificate(port) != expected:
        assert time.monotonic() < deadline, f"nginx did not serve the {what} within {timeout_s} s"
        time.sleep(0.2)


def _wait_for_url(url: str, context=None, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(url, timeout=2, context=context)
            return
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.2)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _http_get(url: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")


@contextmanager
def _process(args, log: Path, **kwargs):
    with log.open("w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, **kwargs)
        try:
            yield proc
        finally:
            if kwargs.get("start_new_session"):
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            else:
                proc.terminate()
            proc.wait(timeout=10)


def _pebble_config(host: Host, dns_port: int) -> tuple[Path, Path]:
    """pebble on 127.0.0.1 with a certificate of its own, validating HTTP-01 on nginx's port."""
    cert, key = host.root / "pebble.crt", host.root / "pebble.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "365", "-subj", "/CN=pebble", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    config = host.root / "pebble.json"
    config.write_text(json.dumps({"pebble": {
        "listenAddress": f"127.0.0.1:{host.ports['acme']}",
        "managementListenAddress": f"127.0.0.1:{host.ports['management']}",
        "certificate": str(cert), "privateKey": str(key),
        "httpPort": host.ports["http"], "tlsPort": host.ports["tls-alpn"],
        "ocspResponderURL": "", "externalAccountBindingRequired": False,
        "profiles": {"default": {"description": "Let's Encrypt's lifetime", "validityPeriod": 90 * 86400}},
    }}))
    return config, cert


def test_certbot_obtains_and_renews_the_certificate_nginx_serves(tmp_path):
    pebble, certbot = acme_tools.pebble(), acme_tools.certbot()
    ports = {name: _free_port() for name in ("http", "https", "acme", "management", "tls-alpn")}
    directory = f"https://127.0.0.1:{ports['acme']}/dir"
    run = cached_run("dev", {"domain": DOMAIN, "docker": {"tls": {"acmeEmail": "ops@example.com",
                                                                   "acmeServer": directory}}})
    nginx_files = _uploads(run.named(CONTAINER, "dify-dev-nginx"))
    step = run.named(CONTAINER, "dify-dev-nginx-certificate")
    client = run.named(CONTAINER, "dify-dev-acme")
    assert client.inputs["entrypoints"] == ["/bin/sh"] and step.inputs["entrypoints"] == ["python3"]

    host = Host(tmp_path, ports)
    conf = host.nginx_conf(nginx_files["/etc/nginx/conf.d/default.conf"])
    reload_script = nginx_files[acme.RELOAD_SCRIPT]
    assert f"sleep {acme.RELOAD_CHECK_S}" in reload_script
    reloader = host.write(acme.RELOAD_SCRIPT, reload_script.replace(f"sleep {acme.RELOAD_CHECK_S}", "sleep 0.2"))
    for path, content in {**_uploads(step), **_uploads(client)}.items():
        host.write(path, content)
    renew = [host.remap(arg) for arg in client.inputs["entrypoints"] + client.inputs["command"]]

    # `nginx` in the rendered scripts is the nginx of this test; `certbot` the pinned release.
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "nginx").write_text(f"#!/bin/sh\nexec {acme_tools.nginx()} -p {tmp_path} -c {conf} -e stderr \"$@\"\n")
    (shims / "nginx").chmod(0o755)
    env = {**os.environ, "PATH": f"{shims}:{Path(certbot).parent}:{os.environ['PATH']}",
           "REQUESTS_CA_BUNDLE": str(tmp_path / "pebble.crt")}
    python = str(Path(certbot).parent / "python3")

    # The placeholder step, then nginx: it starts before any certificate is issued.
    placeholder = subprocess.run([python, *[host.remap(a) for a in step.inputs["command"]]], env=env,
                                 capture_output=True, text=True, timeout=60)
    assert placeholder.returncode == 0, placeholder.stderr
    certificate = Path(host.remap(acme.CERTIFICATE))
    self_signed = x509.load_pem_x509_certificate(certificate.read_bytes())
    assert self_signed.issuer == self_signed.subject

    with _dns_server() as dns_port:
        config, pebble_cert = _pebble_config(host, dns_port)
        pebble_env = {**env, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"}
        with _process([pebble, "-config", str(config), "-dnsserver", f"127.0.0.1:{dns_port}"],
                      tmp_path / "pebble.log", env=pebble_env), \
                _process([acme_tools.nginx(), "-p", str(tmp_path), "-c", str(conf), "-e", "stderr",
                          "-g", "daemon off;"], tmp_path / "nginx.log"), \
                _process(["sh", str(reloader)], tmp_path / "reload.log", env=env, start_new_session=True):
            _wait_for_url(f"http://127.0.0.1:{ports['http']}/healthz")
            _wait_for_url(directory, ssl.create_default_context(cafile=str(pebble_cert)))
            assert _served_certificate(ports["https"]) == _leaf(certificate)
            # Challenges are answered on port 80; everything else there is redirected to HTTPS.
            probe = Path(host.remap(acme.WEBROOT)) / ".well-known" / "acme-challenge" / "probe"
            probe.parent.mkdir(parents=True)
            probe.write_text("token")
            assert _http_get(f"http://127.0.0.1:{ports['http']}/.well-known/acme-challenge/probe") == (200, "token")
            assert _http_get(f"http://127.0.0.1:{ports['http']}/apps")[0] == 301

            def check(*prefix: str) -> str:
                done = subprocess.run([*prefix, *renew, "once"], env=env, capture_output=True, text=True, timeout=180)
                logs = "\n".join(p.read_text() for p in (tmp_path / "pebble.log", tmp_path / "nginx.log"))
                assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{logs}"
                return done.stdout + done.stderr

            check()  # the first issuance
            lineage = Path(host.remap(f"{acme.CONFIG_DIR}/live/{acme.Acme(DOMAIN, '', directory).lineage}"))
            issued = x509.load_pem_x509_certificate((lineage / "cert.pem").read_bytes())
            assert issued.issuer != issued.subject
            assert issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
                x509.DNSName) == [DOMAIN]
            assert certificate.is_symlink() and certificate.resolve() == (lineage / "fullchain.pem").resolve()
            # The account key lives beside the certificates (the volume), nowhere else.
            assert list(Path(host.remap(acme.CONFIG_DIR)).rglob("accounts/**/private_key.json"))
            _wait_until_served(ports["https"], _leaf(lineage / "cert.pem"), "issued certificate")

            assert "not yet due for renewal" in check()  # twice a day, nothing happens until it is due
            assert _served_certificate(ports["https"]) == _leaf(lineage / "cert.pem")
            _the_loop_checks_then_waits_half_a_day_and_stops_on_term(renew, env, tmp_path)

            # 62 days on (60 into Let's Encrypt's 90), the CA's renewal window has begun.
            check("faketime", "-f", "+62d")
            renewed = x509.load_pem_x509_certificate((lineage / "cert.pem").read_bytes())
            assert renewed.serial_number != issued.serial_number
            _wait_until_served(ports["https"], _leaf(lineage / "cert.pem"), "renewed certificate")
            assert "nginx reloaded" in (tmp_path / "reload.log").read_text()


def _the_loop_checks_then_waits_half_a_day_and_stops_on_term(renew: list[str], env: dict, tmp_path: Path) -> None:
    """The container's own command (no `once`): a check, then a pause of 12 hours; `docker stop` ends it."""
    shims = tmp_path / "loop-bin"
    shims.mkdir()
    pauses = tmp_path / "pauses"
    (shims / "sleep").write_text(f"#!/bin/sh\necho \"$1\" >> {pauses}\nexec /bin/sleep 30\n")
    (shims / "sleep").chmod(0o755)
    loop = subprocess.Popen(renew, env={**env, "PATH": f"{shims}:{env['PATH']}"}, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not pauses.exists():
            assert time.monotonic() < deadline and loop.poll() is None, "the loop never paused"
            time.sleep(0.2)
        assert pauses.read_text().split() == [str(acme.CHECK_EVERY_S)]
        loop.send_signal(signal.SIGTERM)
        assert loop.wait(timeout=10) == 0
    finally:
        try:
            os.killpg(loop.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        loop.wait(timeout=10)
