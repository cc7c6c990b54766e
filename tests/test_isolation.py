"""Who may talk to whom, read from the rendered NetworkPolicies with a real evaluator (tests/reachability.py).

The expected matrix is written out here, independently of the catalog: a policy change that opens or
closes any path (workload x workload and port, DNS, the internet, metadata, the API server, kubelets,
the managed data endpoints) fails a test."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterator

import pytest

from tests import pss
from tests.reachability import Address, Cluster, Pod
from tools.mocks import manifests, run_program
from tools.mocks.aws import EXISTING_VPC_CIDR, S3_PREFIXES

# caller -> the (workload, port) it opens; nothing else inside the deployment is allowed.
CALLS: dict[str, set[tuple[str, int]]] = {
    "api": {("sandbox", 8194), ("plugin-daemon", 5002), ("ssrf-proxy", 3128), ("agent-backend", 5050)},
    "worker": {("sandbox", 8194), ("plugin-daemon", 5002), ("ssrf-proxy", 3128), ("agent-backend", 5050)},
    "beat": set(),
    "web": {("api", 5001)},
    "sandbox": {("ssrf-proxy", 3128)},
    "plugin-daemon": {("api", 5001)},
    "ssrf-proxy": {("sandbox", 8194)},
    "api-websocket": set(),
    "agent-backend": {("plugin-daemon", 5002), ("api", 5001), ("local-sandbox", 5004)},
    "local-sandbox": {("agent-ssrf-proxy", 3128)},
    "agent-ssrf-proxy": {("agent-backend", 5050), ("api", 5001)},
    "nginx": {("api", 5001), ("web", 3000), ("plugin-daemon", 5002), ("api-websocket", 5001)},
    "migrate": set(),
    "plugin-migrate": set(),
    "db-init": set(),
    "restore-point": set(),
    "postgres": set(), "redis": set(), "object-store": set(),
}
INTERNET = {"api", "worker", "plugin-daemon", "agent-backend", "ssrf-proxy", "agent-ssrf-proxy"}
DATA_USERS = {
    "postgres": {"api", "worker", "beat", "plugin-daemon", "api-websocket", "migrate", "plugin-migrate", "db-init",
                 "restore-point"},
    "redis": {"api", "worker", "beat", "plugin-daemon", "api-websocket", "agent-backend", "migrate"},
    "object-store": {"api", "worker", "beat", "plugin-daemon", "api-websocket", "migrate", "restore-point"},
    # A vector store outside PostgreSQL: the api's retrieval and the worker's indexing only.
    "vector-store": {"api", "worker"},
}
# Worker pools (workers.layout split) follow the worker's contract.
for _pool in ("worker-dataset", "worker-workflow", "worker-ops"):
    CALLS[_pool] = CALLS["worker"]
    INTERNET.add(_pool)
    for _users in DATA_USERS.values():
        if "worker" in _users:
            _users.add(_pool)
DATA_PORTS = {"postgres": 5432, "redis": 6379, "object-store": 8333}
# Ports a workload listens on that nobody may reach (the plugin daemon's remote-install port).
UNDECLARED = {"plugin-daemon": (5003,)}

PUBLIC = "93.184.216.34"
METADATA = ("169.254.169.254", "100.100.100.200", "169.254.170.2")


@dataclass(frozen=True)
class Layout:
    """Where a stack's pods, services and nodes live, and its data endpoints (None: in the namespace)."""

    pods: str
    api_server: str
    kubelet: str
    dns_addresses: tuple[str, ...]
    data: dict  # service -> (address, port) outside the namespace


STACKS: dict[str, tuple[str, dict, Layout]] = {
    "k8s-self-hosted": ("k8s", {}, Layout(
        pods="10.244.0.0/16", api_server="10.96.0.1", kubelet="192.168.10.11",
        dns_addresses=("169.254.20.10",), data={})),
    # PostgreSQL as a CloudNativePG cluster: Dify's users reach its pooler as they reached the pod
    # (tests/test_ha_data.py reads the pooler's and the instances' own policies).
    "k8s-ha": ("k8s", {"selfHosted": {"highAvailability": True}}, Layout(
        pods="10.244.0.0/16", api_server="10.96.0.1", kubelet="192.168.10.11",
        dns_addresses=("169.254.20.10",), data={})),
    "k8s-external": ("k8s", {
        "postgres": {"mode": "external", "host": "db.internal", "password": "pgPass-Xq81"},
        "redis": {"mode": "external", "host": "10.20.1.7", "password": "redisPass-Zk27"},
        "objectStorage": {"mode": "external", "kind": "s3", "bucket": "dify-files", "region": "us-east-1",
                          "accessKey": "AKIAK8STEST0000", "secretKey": "s3Secret-Lm93"},
        "kubernetes": {"isolation": {"dataCidrs": {"postgres": ["10.20.0.0/24"]}}},
    }, Layout(
        pods="10.244.0.0/16", api_server="10.96.0.1", kubelet="192.168.10.11", dns_addresses=("169.254.20.10",),
        data={"postgres": ("10.20.0.9", 5432), "redis": ("10.20.1.7", 6379), "object-store": ("52.216.8.1", 443)})),
    "aws": ("prod", {}, Layout(
        pods="10.0.0.0/19", api_server="172.20.0.1", kubelet="10.0.32.10", dns_addresses=(),
        data={"postgres": ("10.0.70.5", 5432), "redis": ("10.0.71.5", 6379), "object-store": ("52.216.8.1", 443)})),
    "k8s-external-vectors": ("k8s", {
        "vectorStore": {"kind": "external", "engine": "weaviate", "url": "https://weaviate.internal:8080",
                        "apiKey": "wvKey-Pq27", "cidrs": ["10.30.4.0/24"]},
    }, Layout(
        pods="10.244.0.0/16", api_server="10.96.0.1", kubelet="192.168.10.11", dns_addresses=("169.254.20.10",),
        data={"vector-store": ("10.30.4.8", 8080)})),
    "aws-opensearch": ("prod", {"vectorStore": {"kind": "opensearch"}}, Layout(
        pods="10.0.0.0/19", api_server="172.20.0.1", kubelet="10.0.32.10", dns_addresses=(),
        data={"postgres": ("10.0.70.5", 5432), "redis": ("10.0.71.5", 6379), "object-store": ("52.216.8.1", 443),
              "vector-store": ("10.0.72.5", 443)})),
    "aws-existing-vpc": ("prod", {"aws": {"region": "us-east-1", "vpcId": "vpc-0a1b2c3d4e5f60718",
                                           "privateSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
                                           "publicSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
                                           "hostedZone": "example.com"}},
                         Layout(pods=EXISTING_VPC_CIDR, api_server="172.20.0.1", kubelet="10.50.200.10",
                                dns_addresses=(), data={"postgres": ("10.50.70.5", 5432),
                                                        "redis": ("10.50.71.5", 6379),
                                                        "object-store": ("54.231.0.9", 443)})),
    "alicloud-analyticdb": ("alicloud", {"vectorStore": {"kind": "analyticdb"}}, Layout(
        pods="192.168.128.0/20", api_server="172.16.0.1", kubelet="192.168.0.20", dns_addresses=("192.168.0.53",),
        data={"vector-store": ("192.168.5.9", 5432)})),
    "alicloud-tablestore": ("alicloud", {"vectorStore": {"kind": "tablestore"}}, Layout(
        pods="192.168.128.0/20", api_server="172.16.0.1", kubelet="192.168.0.20", dns_addresses=("192.168.0.53",),
        data={"vector-store": ("192.168.6.9", 443)})),
    "alicloud": ("alicloud", {}, Layout(
        pods="192.168.128.0/20", api_server="172.16.0.1", kubelet="192.168.0.20", dns_addresses=("192.168.0.53",),
        data={"postgres": ("192.168.3.9", 5432), "redis": ("192.168.4.9", 6379),
              "object-store": ("100.118.28.1", 443)})),
}

_CACHE: dict[str, tuple[Cluster, dict[str, Pod], dict[str, tuple[int, ...]]]] = {}


def rendered(stack: str):
    if stack not in _CACHE:
        name, overrides, layout = STACKS[stack]
        secret = tuple(k for k in overrides if k in ("postgres", "redis", "objectStorage", "vectorStore"))
        objects = manifests(run_program(name, overrides=overrides, secret_keys=secret))
        hosts = ipaddress.ip_network(layout.pods).hosts()
        next(hosts)
        pods, ports = {}, {}
        for m in objects:
            if m["kind"] not in ("Deployment", "StatefulSet", "Job"):
                continue
            template = m["spec"]["template"]
            service = template["metadata"]["labels"]["app.kubernetes.io/name"]
            pods[service] = Pod(m["metadata"]["namespace"], template["metadata"]["labels"], str(next(hosts)))
            ports[service] = tuple(p["containerPort"] for c in template["spec"]["containers"]
                                   for p in c.get("ports", [])) + UNDECLARED.get(service, ())
        _CACHE[stack] = (Cluster(objects), pods, ports)
    return _CACHE[stack]


def expected_inside(source: str, target: str, port: int) -> bool:
    if (target, port) in CALLS[source]:
        return True
    return target in DATA_PORTS and port == DATA_PORTS[target] and source in DATA_USERS[target]


def pairs(pods: dict, ports: dict) -> Iterator[tuple[str, str, int]]:
    for source in pods:
        for target in pods:
            for port in ports[target]:
                yield source, target, port


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_workload_to_workload_matrix(stack):
    cluster, pods, ports = rendered(stack)
    assert set(pods) <= set(CALLS), set(pods) - set(CALLS)
    assert {"api", "nginx", "sandbox", "local-sandbox", "migrate"} <= set(pods)
    wrong = [f"{s} -> {t}:{p} is {'allowed' if not e else 'denied'}"
             for s, t, p in pairs(pods, ports)
             if cluster.allows(pods[s], pods[t], p) != (e := expected_inside(s, t, p))]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_internet_metadata_api_server_and_kubelets(stack):
    cluster, pods, _ = rendered(stack)
    layout = STACKS[stack][2]
    wrong = []
    for name, pod in pods.items():
        if cluster.allows(pod, Address(PUBLIC), 8080) != (name in INTERNET):
            wrong.append(f"{name} -> internet")
        for address in METADATA:
            if cluster.allows(pod, Address(address), 80):
                wrong.append(f"{name} -> metadata {address}")
        if cluster.allows(pod, Address(layout.api_server), 443):
            wrong.append(f"{name} -> API server")
        for port in (10250, 22):
            if cluster.allows(pod, Address(layout.kubelet), port):
                wrong.append(f"{name} -> node {layout.kubelet}:{port}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_dns_on_udp_and_tcp_53_for_every_workload(stack):
    cluster, pods, _ = rendered(stack)
    layout = STACKS[stack][2]
    core_dns = Pod("kube-system", {"k8s-app": "kube-dns"}, str(ipaddress.ip_network(layout.pods)[-2]))
    for name, pod in pods.items():
        for protocol in ("UDP", "TCP"):
            assert cluster.allows(pod, core_dns, 53, protocol), (name, protocol)
            for address in layout.dns_addresses:
                assert cluster.allows(pod, Address(address), 53, protocol), (name, address)
        assert not cluster.allows(pod, core_dns, 9153), name
        if name not in INTERNET:
            assert not cluster.allows(pod, Address(PUBLIC), 53, "UDP"), name


# Destinations a policy cannot tell apart, being the same range and port: AnalyticDB and ApsaraDB RDS are
# both the VPC on 5432 (their addresses are known only by name).
SHARED = {("alicloud-analyticdb", "vector-store"): "postgres"}


@pytest.mark.parametrize("stack", sorted(s for s in STACKS if STACKS[s][2].data))
def test_external_data_endpoints_only_for_their_users(stack):
    cluster, pods, _ = rendered(stack)
    layout = STACKS[stack][2]
    wrong = []
    for service, (address, port) in layout.data.items():
        users = DATA_USERS[service] | DATA_USERS.get(SHARED.get((stack, service), ""), set())
        for name, pod in pods.items():
            expected = name in users or (name in INTERNET and not _private(address))
            if cluster.allows(pod, Address(address), port) != expected:
                wrong.append(f"{name} -> {service} {address}:{port}")
            if cluster.allows(pod, Address(address), 2222) != (name in INTERNET and not _private(address)):
                wrong.append(f"{name} -> {address}:2222")
    assert not wrong, "\n".join(wrong)


def _private(address: str) -> bool:
    return not ipaddress.ip_address(address).is_global


def test_the_public_reaches_only_nginx_on_its_port():
    cluster, pods, ports = rendered("k8s-self-hosted")
    outside = Address("203.0.113.7")
    for name in pods:
        for port in ports[name]:
            assert cluster.allows(outside, pods[name], port) == (name == "nginx" and port == 8080), (name, port)


def test_irsa_workloads_reach_public_addresses_on_443_only_on_aws():
    """beat, the migration and the websocket server have an IRSA role but no internet: their SDK fetches
    credentials from the regional STS endpoint, whose addresses AWS does not publish as a range."""
    for stack, expected in (("aws", True), ("k8s-self-hosted", False), ("alicloud", False)):
        cluster, pods, _ = rendered(stack)
        for name in ("beat", "migrate", "api-websocket"):
            assert cluster.allows(pods[name], Address(PUBLIC), 443) == expected, (stack, name)
            assert not cluster.allows(pods[name], Address(PUBLIC), 80), (stack, name)
        for name in ("web", "nginx", "sandbox", "local-sandbox", "plugin-migrate", "db-init", "restore-point"):
            if name in pods:
                assert not cluster.allows(pods[name], Address(PUBLIC), 443), (stack, name)


def test_the_s3_ranges_come_from_the_regions_prefix_list():
    cluster, pods, _ = rendered("aws")
    for cidr in S3_PREFIXES:
        address = str(next(ipaddress.ip_network(cidr).hosts()))
        assert cluster.allows(pods["beat"], Address(address), 443)
        assert not cluster.allows(pods["beat"], Address(address), 80)
    assert not cluster.allows(pods["beat"], Address(PUBLIC), 8443)


# -- the evaluator itself --------------------------------------------------------------------------

def _policy(spec: dict, namespace: str = "a") -> dict:
    return {"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": namespace}, "spec": spec}


def test_the_evaluator_follows_networkpolicy_semantics():
    x, y = Pod("a", {"app": "x"}, "10.1.0.1"), Pod("b", {"app": "y"}, "10.1.0.2")
    assert Cluster([]).allows(x, y, 80)
    deny = _policy({"podSelector": {}, "policyTypes": ["Egress"]})
    assert not Cluster([deny]).allows(x, y, 80)
    assert Cluster([deny]).allows(y, x, 80)
    block = _policy({"podSelector": {}, "policyTypes": ["Egress"], "egress": [
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}], "ports": [{"port": 443}]}]})
    assert Cluster([block]).allows(x, Address(PUBLIC), 443)
    assert not Cluster([block]).allows(x, Address(PUBLIC), 80)
    assert not Cluster([block]).allows(x, y, 443), "the except must exclude pods by their IP"
    same_namespace_only = _policy({"podSelector": {}, "policyTypes": ["Egress"],
                                   "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "y"}}}]}]})
    assert not Cluster([same_namespace_only]).allows(x, y, 80)
    both = _policy({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "b"}},
        "podSelector": {"matchLabels": {"app": "y"}}}], "ports": [{"protocol": "UDP", "port": 53}]}]})
    assert Cluster([both]).allows(x, y, 53, "UDP")
    assert not Cluster([both]).allows(x, y, 53, "TCP")
    assert not Cluster([both]).allows(x, Pod("b", {"app": "z"}, "10.1.0.3"), 53, "UDP")
    ingress = _policy({"podSelector": {"matchLabels": {"app": "y"}}, "policyTypes": ["Ingress"]}, "b")
    assert not Cluster([ingress]).allows(x, y, 80)


# -- Pod Security ------------------------------------------------------------------------------------

POD_TEMPLATES = ("Deployment", "StatefulSet", "Job", "DaemonSet")


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_every_pod_template_meets_its_namespaces_pod_security_level(stack):
    name, overrides, _ = STACKS[stack]
    secret = tuple(k for k in overrides if k in ("postgres", "redis", "objectStorage", "vectorStore"))
    objects = manifests(run_program(name, overrides=overrides, secret_keys=secret))
    levels = {m["metadata"]["name"]: m["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
              for m in objects if m["kind"] == "Namespace"}
    assert levels == {"dify": "restricted", "dify-sandbox": "baseline"}
    found, placed = [], {}
    for m in objects:
        if m["kind"] in POD_TEMPLATES:
            namespace = m["metadata"]["namespace"]
            service = m["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
            placed[service] = namespace
            found += [f"{namespace}/{service}: {v}" for v in pss.violations(m["spec"]["template"]["spec"],
                                                                              levels[namespace])]
            if levels[namespace] != "restricted":
                assert pss.restricted(m["spec"]["template"]["spec"]), f"{service} could run in the restricted one"
    assert not found, "\n".join(found)
    assert {s for s, ns in placed.items() if ns == "dify-sandbox"} == {"sandbox", "local-sandbox"}


def test_the_checker_refuses_what_admission_refuses():
    ok = {"securityContext": {"runAsNonRoot": True, "runAsUser": 1001, "seccompProfile": {"type": "RuntimeDefault"}},
          "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": False,
                                                           "capabilities": {"drop": ["ALL"]}}}]}
    assert pss.restricted(ok) == []
    root = {**ok, "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}
    assert pss.restricted(root) == ["c: runAsNonRoot not true"] and pss.baseline(root) == []
    chroot = {**ok, "containers": [{"name": "c", "securityContext": {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"], "add": ["SYS_CHROOT"]}}}]}
    assert pss.restricted(chroot) == ["c: adds ['SYS_CHROOT']"] and pss.baseline(chroot) == []
    admin = {**ok, "containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]}
    assert "c: capabilities ['SYS_ADMIN']" in pss.baseline(admin)
    host = {**ok, "hostNetwork": True, "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}
    assert pss.baseline(host) == ["hostNetwork", "hostPath volume h"]
