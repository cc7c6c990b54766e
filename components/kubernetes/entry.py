"""How traffic reaches the entry workload (nginx, the catalog's router) on a cluster.

A target picks one of:
- a Service of type LoadBalancer with the target's annotations (AWS NLB via the AWS Load Balancer
  Controller, Alibaba CLB via the cloud controller manager, or whatever the cluster's controller
  reads). TLS either terminates at the load balancer (a certificate ARN / ID in the annotations; the
  balancer forwards plain HTTP to nginx's http port) or in nginx (a certificate from a Secret);
- an Ingress (the nginx Service stays ClusterIP), with TLS from a Secret the Ingress names;
- a NodePort Service (bare metal, kind: reach a node's port) or only the ClusterIP Service (reach it
  with `kubectl port-forward` or an entry managed elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

import pulumi

EntryKind = Literal["loadBalancer", "ingress", "nodePort", "clusterIP"]
Cloud = Literal["generic", "aws", "alicloud"]

_AWS = "service.beta.kubernetes.io/aws-load-balancer-"
_ALI = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-"


@dataclass(frozen=True)
class Entry:
    kind: EntryKind = "loadBalancer"
    annotations: dict[str, str] = field(default_factory=dict)
    # TLS terminates at the load balancer: port 443 on the balancer forwards to nginx's http port.
    tls_at_load_balancer: bool = False
    source_ranges: tuple[str, ...] = ()
    load_balancer_class: Optional[str] = None
    ingress_class: Optional[str] = None
    ingress_host: Optional[str] = None
    ingress_tls_secret: Optional[pulumi.Input[str]] = None
    # A certificate for the Ingress, stored by the renderer in a kubernetes.io/tls Secret.
    tls_certificate: Optional[pulumi.Output[str]] = None
    tls_key: Optional[pulumi.Output[str]] = None
    # LoadBalancer: whether `pulumi up` waits for the balancer's address.
    wait_for_address: bool = True
    # NodePort: a fixed node port for HTTP (otherwise the cluster picks one).
    node_port: Optional[int] = None
    # Labels the entry's controller reads on the namespace.
    namespace_labels: dict[str, str] = field(default_factory=dict)
    # cert-manager answers HTTP-01 challenges for the Ingress with solver pods in the namespace.
    http01_solver: bool = False

    @property
    def behind_proxy(self) -> bool:
        """Whether something in front of nginx speaks HTTP(S) to the user."""
        return self.kind == "ingress" or self.tls_at_load_balancer


def load_balancer_annotations(cloud: Cloud, certificate: Optional[str] = None, internal: bool = False) -> dict[str, str]:
    """The annotations a cloud's load balancer controller reads for the nginx Service."""
    if cloud == "aws":
        annotations = {
            f"{_AWS}type": "external",
            f"{_AWS}nlb-target-type": "ip",
            f"{_AWS}scheme": "internal" if internal else "internet-facing",
            f"{_AWS}backend-protocol": "tcp",
            # IP targets see the balancer's address unless told otherwise; nginx limits per client address.
            f"{_AWS}target-group-attributes": "preserve_client_ip.enabled=true",
        }
        if certificate:
            annotations.update({f"{_AWS}ssl-cert": certificate, f"{_AWS}ssl-ports": "443"})
        return annotations
    if cloud == "alicloud":
        annotations = {f"{_ALI}address-type": "intranet" if internal else "internet"}
        if certificate:
            annotations.update({f"{_ALI}protocol-port": "https:443,http:80", f"{_ALI}cert-id": certificate})
        return annotations
    return {}
