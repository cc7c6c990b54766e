"""A local control plane for the e2e tier: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and KWOK (fake nodes), all on 127.0.0.1, with certificates made on the fly by openssl.

KWOK plays the kubelets: pods on its nodes become Running and Ready (so Deployments and StatefulSets
roll out) and pods of Jobs complete. Two stand-ins play what a cloud cluster would add: a few
pre-made PersistentVolumes of a `e2e-local` StorageClass (bound to the claims by the
controller-manager's PV controller), and an "ingress controller" that writes 127.0.0.1 into the
status of every Ingress (what a real controller does once its proxy serves it).
"""

from __future__ import annotations

import base64
import json
import os
import random
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

STORAGE_CLASS = "e2e-local"
NODES = ("kwok-node-0", "kwok-node-1", "kwok-node-2")


_taken: set[int] = set()


def free_port() -> int:
    """A free port below the kernel's ephemeral range, so an outgoing connection cannot take it
    between this check and the server's bind."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        if port in _taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken.add(port)
        return port
    raise RuntimeError("no free port on 127.0.0.1")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(d: Path) -> None:
    """CA, the apiserver's serving certificate, an admin client (system:masters), a service-account key."""
    d.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-days", "2", "-subj", "/CN=dify-e2e-ca", cwd=d)
    (d / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
        "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n"
        "extendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, subj, ext in (("server", "/CN=kube-apiserver", "server.ext"),
                            ("admin", "/O=system:masters/CN=dify-e2e-admin", "client.ext")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", subj, cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "2", "-extfile", ext, cwd=d)
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=d)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=d)


def kubeconfig(d: Path, server: str) -> str:
    def b64(name: str) -> str:
        return base64.b64encode((d / name).read_bytes()).decode()

    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "e2e",
        "clusters": [{"name": "e2e", "cluster": {"server": server, "certificate-authority-data": b64("ca.crt")}}],
        "users": [{"name": "admin", "user": {"client-certificate-data": b64("admin.crt"),
                                             "client-key-data": b64("admin.key")}}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "admin"}}],
    }, indent=1)


class Kube:
    """Just enough of the Kubernetes REST API, with the admin client certificate."""

    def __init__(self, server: str, certs: Path) -> None:
        self.server = server
        self.ctx = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        self.ctx.load_cert_chain(str(certs / "admin.crt"), str(certs / "admin.key"))

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                timeout: float = 15) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server + path, data=data, method=method,
                                     headers={"Content-Type": content_type, "Accept": "application/json"})
        with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode()

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def get_or_none(self, path: str) -> Optional[Any]:
        try:
            return self.get(path)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def items(self, path: str) -> list[dict]:
        return self.get(path).get("items", [])

    def create(self, path: str, obj: dict) -> Any:
        try:
            return self.request("POST", path, obj)
        except urllib.error.HTTPError as e:
            if e.code == 409:  # already there
                return None
            raise

    def merge_patch(self, path: str, patch: dict) -> Any:
        return self.request("PATCH", path, patch, content_type="application/merge-patch+json")


class ControlPlane:
    def __init__(self, bins: dict[str, str], workdir: Path) -> None:
        self.bins = bins
        self.dir = workdir
        self.certs = workdir / "pki"
        self.logs = workdir / "logs"
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.server = ""
        self.kubeconfig_path = workdir / "kubeconfig"

    # -- processes
    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "wb")
        proc = subprocess.Popen([self.bins[name], *args], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def _check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def _wait(self, what: str, ready, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if ready():
                    return
            except Exception as e:  # noqa: BLE001 - not up yet
                last = e
            time.sleep(0.5)
        raise TimeoutError(f"{what} not ready after {timeout}s: {last}")

    def start(self) -> "ControlPlane":
        make_certificates(self.certs)
        c = self.certs
        etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        self._start("etcd", [
            "--name", "e2e", "--data-dir", str(self.dir / "etcd"), "--listen-client-urls", etcd_url,
            "--advertise-client-urls", etcd_url, "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"e2e=http://127.0.0.1:{peer_port}", "--unsafe-no-fsync",
            "--listen-metrics-urls", f"http://127.0.0.1:{free_port()}", "--log-level", "warn",
        ])
        self._wait("etcd", lambda: urllib.request.urlopen(f"{etcd_url}/health", timeout=2).status == 200)

        self.server = f"https://127.0.0.1:{api_port}"
        self._start("kube-apiserver", [
            "--etcd-servers", etcd_url, "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--secure-port", str(api_port), "--tls-cert-file", str(c / "server.crt"),
            "--tls-private-key-file", str(c / "server.key"), "--client-ca-file", str(c / "ca.crt"),
            "--service-account-key-file", str(c / "sa.pub"), "--service-account-signing-key-file", str(c / "sa.key"),
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-cluster-ip-range", "10.96.0.0/16", "--authorization-mode", "Node,RBAC",
            "--allow-privileged=true", "--endpoint-reconciler-type", "none",
            "--enable-priority-and-fairness=false", "--profiling=false",
        ])
        self.kube = Kube(self.server, c)
        self._wait("kube-apiserver", lambda: self.kube.get("/readyz") == "ok", timeout=180)
        self.kubeconfig_path.write_text(kubeconfig(c, self.server))
        kc = str(self.kubeconfig_path)
        self._start("kube-controller-manager", [
            "--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
            "--bind-address", "127.0.0.1", "--secure-port", str(free_port()), "--leader-elect=false",
            "--service-account-private-key-file", str(c / "sa.key"), "--root-ca-file", str(c / "ca.crt"),
            "--use-service-account-credentials=false",
            "--cluster-signing-cert-file", str(c / "ca.crt"), "--cluster-signing-key-file", str(c / "ca.key"),
        ])
        self._start("kube-scheduler", [
            "--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
            "--bind-address", "127.0.0.1", "--secure-port", str(free_port()), "--leader-elect=false",
        ])
        self._start("kwok", [
            "--kubeconfig", kc, "--config", self.bins["kwok-stages"], "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake",
            "--cidr", "10.244.0.0/16", "--node-ip", "10.250.0.1",
            "--server-address", f"127.0.0.1:{free_port()}",
        ])
        # The token controller makes the default service account of a namespace; wait for it.
        self._wait("service accounts", lambda: self.kube.get_or_none(
            "/api/v1/namespaces/default/serviceaccounts/default") is not None)
        self._add_nodes()
        self._add_storage()
        self._threads.append(threading.Thread(target=self._ingress_status_loop, daemon=True))
        for t in self._threads:
            t.start()
        self._wait("fake nodes", self._nodes_ready, timeout=60)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    # -- cluster contents
    def _add_nodes(self) -> None:
        for name in NODES:
            self.kube.create("/api/v1/nodes", {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                             "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                        "kubernetes.io/arch": "amd64", "type": "kwok",
                                        "topology.kubernetes.io/zone": f"e2e-{name[-1]}"}},
                "status": {"allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                           "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"}},
            })

    def _nodes_ready(self) -> bool:
        nodes = self.kube.items("/api/v1/nodes")
        ready = [n for n in nodes if any(c["type"] == "Ready" and c["status"] == "True"
                                         for c in n.get("status", {}).get("conditions", []))]
        return len(ready) == len(NODES)

    def _add_storage(self, volumes: int = 12) -> None:
        self.kube.create("/apis/storage.k8s.io/v1/storageclasses", {
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": STORAGE_CLASS},
            "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "Immediate",
            "reclaimPolicy": "Retain",
        })
        for i in range(volumes):
            self.kube.create("/api/v1/persistentvolumes", {
                "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"e2e-pv-{i}"},
                "spec": {"capacity": {"storage": "1Ti"}, "accessModes": ["ReadWriteOnce"],
                         "persistentVolumeReclaimPolicy": "Retain", "storageClassName": STORAGE_CLASS,
                         "hostPath": {"path": f"/tmp/dify-e2e-pv-{i}"}},
            })

    def _ingress_status_loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                for ing in self.kube.items("/apis/networking.k8s.io/v1/ingresses"):
                    lb = (ing.get("status") or {}).get("loadBalancer") or {}
                    if lb.get("ingress"):
                        continue
                    md = ing["metadata"]
                    self.kube.merge_patch(
                        f"/apis/networking.k8s.io/v1/namespaces/{md['namespace']}/ingresses/{md['name']}/status",
                        {"status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}})
            except Exception:  # noqa: BLE001 - the apiserver may be stopping
                continue
