"""NetworkPolicies from the workloads' contract (ServiceSpec.calls / data / internet): least privilege.

- `default-deny`: nothing enters or leaves any pod in the namespace unless a policy below allows it;
- `dns`: every pod may ask the cluster DNS on UDP and TCP 53, at the peers the target names (CoreDNS
  pods in kube-system, a NodeLocal DNSCache address, or the address range of a DNS the cluster hosts
  outside its pods);
- `<service>`: what the workload may open: each workload it calls on that port only, each data
  service it uses (its pods in the namespace, or the managed endpoint's address range and port), and
  for the few that need it the internet: 0.0.0.0/0 except link-local (cloud metadata), the target's
  metadata addresses and the cluster's own ranges (pods, services, nodes/VPC);
- `<callee>-from-<caller>`: the callee accepts the caller on that port, and nothing else;
- `entry`: the entry workload (nginx) accepts from anywhere on its published ports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

import pulumi

from components.workload import ServiceSpec

LABEL_PREFIX = "dify.network/"
LINK_LOCAL = "169.254.0.0/16"
ANYWHERE = "0.0.0.0/0"
KUBE_DNS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
# NodeLocal DNSCache's conventional listen address.
NODE_LOCAL_DNS = "169.254.20.10"
# Private (RFC 1918) and shared (RFC 6598) ranges: where clusters put their pods, services and nodes
# unless told otherwise; Alibaba Cloud's metadata and internal services sit in 100.64.0.0/10.
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
ALIBABA_METADATA = "100.100.100.200/32"


@dataclass(frozen=True)
class Destination:
    """A data service outside the namespace: its address ranges (none: public addresses only) and port."""

    port: pulumi.Input[int]
    cidrs: pulumi.Input[Sequence[str]] = ()
    # Within `cidrs`, addresses to leave out (e.g. the metadata address inside a provider's range).
    excepted: tuple[str, ...] = ()
    # Also at public addresses (a server named by host name that may be anywhere).
    public: bool = False


@dataclass(frozen=True)
class Isolation:
    """What a target knows about its cluster's network."""

    cluster_ranges: tuple[pulumi.Input[str], ...] = PRIVATE_RANGES
    metadata: tuple[str, ...] = (ALIBABA_METADATA,)
    dns_addresses: tuple[pulumi.Input[str], ...] = (f"{NODE_LOCAL_DNS}/32",)
    external: dict[str, Destination] = field(default_factory=dict)
    # Where pods bound to a cloud identity fetch its credentials (IRSA: the regional STS endpoint, which
    # has no published address range); the workloads with the internet reach it anyway.
    identity: Optional[Destination] = None

    def not_internet(self) -> list[pulumi.Input[str]]:
        return list(dict.fromkeys([LINK_LOCAL, *self.metadata, *self.cluster_ranges]))

    def internet_peer(self) -> dict:
        return {"ipBlock": {"cidr": ANYWHERE, "except": self.not_internet()}}


def labels(spec: ServiceSpec) -> dict[str, str]:
    return {f"{LABEL_PREFIX}{net}": "true" for net in sorted(spec.networks)}


def _tcp(port: pulumi.Input[int]) -> dict:
    return {"protocol": "TCP", "port": port}


def namespace_policies(isolation: Isolation) -> dict[str, dict]:
    """Policy name -> spec: deny everything, then DNS for every pod."""
    peers = [KUBE_DNS] + [{"ipBlock": {"cidr": a}} for a in isolation.dns_addresses]
    return {
        "default-deny": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        "dns": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": peers, "ports": [{"protocol": "UDP", "port": 53}, _tcp(53)]}],
        },
    }


def _external_peers(destination: Destination, isolation: Isolation) -> pulumi.Input[list[dict]]:
    def blocks(cidrs: Sequence[str]) -> list[dict]:
        peers = [{"ipBlock": {"cidr": c, **({"except": list(destination.excepted)} if destination.excepted else {})}}
                 for c in cidrs]
        return peers + ([isolation.internet_peer()] if destination.public or not peers else [])
    if isinstance(destination.cidrs, pulumi.Output):
        return destination.cidrs.apply(blocks)
    return blocks(list(destination.cidrs))


def egress_policy(spec: ServiceSpec, selector: dict[str, str], peer_of, isolation: Isolation,
                  deployed: dict[str, int], cloud_identity: bool = False,
                  companions: Optional[dict[str, dict[str, int]]] = None) -> Optional[dict]:
    """What `spec`'s pods may open. `peer_of(service)` is the peer selecting that workload's pods;
    `deployed`: data services running as workloads of this deployment, by port (the others are
    `isolation.external`); `companions`: further workloads of a deployed data service its clients
    reach, by port."""
    rules: list[dict] = [{"to": [peer_of(c.service)], "ports": [_tcp(c.port)]} for c in spec.calls]
    for data in sorted(spec.data):
        destination = isolation.external.get(data)
        if data in deployed:
            rules.append({"to": [peer_of(data)], "ports": [_tcp(deployed[data])]})
            rules += [{"to": [peer_of(other)], "ports": [_tcp(port)]}
                      for other, port in sorted((companions or {}).get(data, {}).items())]
        elif destination is not None:
            rules.append({"to": _external_peers(destination, isolation), "ports": [_tcp(destination.port)]})
        else:
            raise ValueError(f"{spec.name} uses {data}, which is neither a workload here nor a known destination")
    if spec.internet:
        rules.append({"to": [isolation.internet_peer()]})
    elif cloud_identity and isolation.identity is not None:
        rules.append({"to": _external_peers(isolation.identity, isolation), "ports": [_tcp(isolation.identity.port)]})
    if not rules:
        return None
    return {"podSelector": {"matchLabels": dict(selector)}, "policyTypes": ["Egress"], "egress": rules}


def ingress_policy(callee: dict[str, str], caller_peer: dict, ports: Sequence[pulumi.Input[int]]) -> dict:
    """The callee's pods accept the caller's on `ports`."""
    return {
        "podSelector": {"matchLabels": dict(callee)},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [caller_peer], "ports": [_tcp(p) for p in ports]}],
    }


def entry_policy(selector: dict[str, str], ports: Iterable[int]) -> dict:
    """The entry accepts from any source (load balancer, ingress controller) on its published ports."""
    return {
        "podSelector": {"matchLabels": dict(selector)},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [_tcp(p) for p in sorted(set(ports))]}],
    }
