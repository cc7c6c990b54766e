"""NetworkPolicies derived from the workloads' logical networks.

The renderer labels every pod with the networks its spec names (`dify.network/<net>: "true"`), then:
- `default-deny`: nothing enters or leaves any pod in the namespace unless a policy below allows it;
- `dns`: every pod may ask the cluster DNS (kube-dns in kube-system, or a node-local cache);
- `net-<net>`: pods on a network accept connections from the other pods on that network
  (the semantics of the Docker networks of the same names);
- `internet`: pods on the `app` network may open connections anywhere (model providers,
  marketplace, PyPI, managed databases, the other pods);
- `egress-<service>`: a confined pod (one not on `app`) may open connections only to the services
  its spec depends on: the sandbox to the SSRF proxy, the agent's local sandbox to its own SSRF proxy,
  the data services to nothing;
- `entry`: the entry workload (nginx) accepts from anywhere on its published ports.

So the sandbox reaches nothing but the SSRF proxy (which refuses private addresses), and the data
services accept only the Dify pods that use data.
"""

from __future__ import annotations

from typing import Iterable

from components.workload import APP_NET, INTERNAL_NETWORKS, ServiceSpec

LABEL_PREFIX = "dify.network/"
NETWORKS = (APP_NET, *INTERNAL_NETWORKS)
DNS_PEERS = [
    {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    },
    # NodeLocal DNSCache's conventional link-local address, where a cluster runs it.
    {"ipBlock": {"cidr": "169.254.20.10/32"}},
]


def labels(spec: ServiceSpec) -> dict[str, str]:
    return {f"{LABEL_PREFIX}{net}": "true" for net in sorted(spec.networks)}


def _member(net: str) -> dict:
    return {"podSelector": {"matchLabels": {f"{LABEL_PREFIX}{net}": "true"}}}


def namespace_policies() -> dict[str, dict]:
    """Policy name -> spec: the baseline, one policy per logical network, and internet egress."""
    policies: dict[str, dict] = {
        "default-deny": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        "dns": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": DNS_PEERS, "ports": [{"protocol": "UDP", "port": 53},
                                                    {"protocol": "TCP", "port": 53}]}],
        },
        "internet": {
            "podSelector": _member(APP_NET)["podSelector"],
            "policyTypes": ["Egress"],
            "egress": [{}],
        },
    }
    for net in NETWORKS:
        policies[f"net-{net}"] = {
            "podSelector": _member(net)["podSelector"],
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [_member(net)]}],
        }
    return policies


def confined(spec: ServiceSpec) -> bool:
    return APP_NET not in spec.networks


def egress_policy(selector: dict[str, str], dependencies: dict[str, dict[str, str]]) -> dict:
    """A confined workload reaches only the workloads it depends on (selectors by name)."""
    policy: dict = {"podSelector": {"matchLabels": dict(selector)}, "policyTypes": ["Egress"]}
    if dependencies:
        policy["egress"] = [{"to": [{"podSelector": {"matchLabels": dict(dependencies[d])}}
                                    for d in sorted(dependencies)]}]
    return policy


def entry_policy(selector: dict[str, str], ports: Iterable[int]) -> dict:
    """The entry accepts from any source (load balancer, ingress controller) on its published ports."""
    return {
        "podSelector": {"matchLabels": dict(selector)},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"protocol": "TCP", "port": p} for p in sorted(set(ports))]}],
    }
