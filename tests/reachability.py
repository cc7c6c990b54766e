"""A NetworkPolicy evaluator (networking.k8s.io/v1 semantics) over rendered manifests.

A connection from a source to a destination on (protocol, port) is allowed when both sides allow it:
- egress: the source is an address outside the cluster, or no Egress policy of its namespace selects
  it, or a rule of one that does matches the destination and the port;
- ingress: likewise for the destination's namespace and Ingress policies.
Peers: `podSelector` (pods of the policy's namespace), `namespaceSelector` (pods of matching
namespaces), both (AND), `ipBlock` (an address within `cidr` and outside every `except`; it matches
pods by their IP too, as CNIs that see pod IPs do, so an allow-all block must except the pod range).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: dict = field(hash=False)
    ip: str = ""


@dataclass(frozen=True)
class Address:
    ip: str


Endpoint = Pod | Address


def _selects(selector: Optional[dict], labels: dict) -> bool:
    if selector is None:
        return False
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, op, values = expression["key"], expression["operator"], expression.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _in_block(ip: str, block: dict) -> bool:
    if not ip:
        return False
    address = ipaddress.ip_address(ip)
    network = ipaddress.ip_network(block["cidr"])
    if address.version != network.version or address not in network:
        return False
    return not any(address in ipaddress.ip_network(e) for e in block.get("except", []))


class Cluster:
    def __init__(self, manifests: list[dict]) -> None:
        self.policies = [m for m in manifests if m["kind"] == "NetworkPolicy"]
        self.namespaces: dict[str, dict] = {}
        for m in manifests:
            if m["kind"] == "Namespace":
                name = m["metadata"]["name"]
                self.namespaces[name] = {**m["metadata"].get("labels", {}), "kubernetes.io/metadata.name": name}
        for policy in self.policies:
            self._check(policy)

    @staticmethod
    def _check(policy: dict) -> None:
        """The evaluator understands every field the renderer writes (an unknown one fails loudly)."""
        spec = policy["spec"]
        assert set(spec) <= {"podSelector", "policyTypes", "ingress", "egress"}, spec
        for key in ("ingress", "egress"):
            for rule in spec.get(key, []):
                assert set(rule) <= {"from", "to", "ports"}, rule
                for port in rule.get("ports", []):
                    assert set(port) <= {"protocol", "port", "endPort"}, port
                    assert isinstance(port.get("port", 0), int), f"named ports are not evaluated: {port}"
                for peer in rule.get("from", rule.get("to", [])):
                    assert set(peer) <= {"podSelector", "namespaceSelector", "ipBlock"}, peer
                    assert "ipBlock" not in peer or len(peer) == 1, peer

    def namespace_labels(self, namespace: str) -> dict:
        return self.namespaces.get(namespace, {"kubernetes.io/metadata.name": namespace})

    def _peer(self, peer: dict, policy_ns: str, other: Endpoint) -> bool:
        if "ipBlock" in peer:
            return _in_block(other.ip, peer["ipBlock"])
        if not isinstance(other, Pod):
            return False
        if "namespaceSelector" in peer:
            if not _selects(peer["namespaceSelector"], self.namespace_labels(other.namespace)):
                return False
        elif other.namespace != policy_ns:
            return False
        return "podSelector" not in peer or _selects(peer["podSelector"], other.labels)

    @staticmethod
    def _port(rule: dict, protocol: str, port: int) -> bool:
        ports = rule.get("ports")
        if not ports:
            return True
        for p in ports:
            if p.get("protocol", "TCP") != protocol:
                continue
            if "port" not in p:
                return True
            if p["port"] <= port <= p.get("endPort", p["port"]):
                return True
        return False

    def _side(self, subject: Endpoint, other: Endpoint, direction: str, protocol: str, port: int) -> bool:
        if not isinstance(subject, Pod):
            return True
        key, peers = ("egress", "to") if direction == "Egress" else ("ingress", "from")
        selecting = [p for p in self.policies if p["metadata"]["namespace"] == subject.namespace
                     and direction in p["spec"].get("policyTypes", ["Ingress"])
                     and _selects(p["spec"]["podSelector"], subject.labels)]
        if not selecting:
            return True
        for policy in selecting:
            for rule in policy["spec"].get(key, []):
                if not self._port(rule, protocol, port):
                    continue
                if peers not in rule or any(self._peer(peer, policy["metadata"]["namespace"], other)
                                            for peer in rule[peers]):
                    return True
        return False

    def allows(self, source: Endpoint, destination: Endpoint, port: int, protocol: str = "TCP") -> bool:
        return (self._side(source, destination, "Egress", protocol, port)
                and self._side(destination, source, "Ingress", protocol, port))
