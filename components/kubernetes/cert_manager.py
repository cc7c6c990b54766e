"""Certificates for the Ingress from cert-manager (which must run in the cluster: this program does not install it).

The Ingress names an issuer in the `cert-manager.io/cluster-issuer` annotation and a TLS Secret; cert-manager's
ingress-shim creates the Certificate, answers the challenge and keeps the Secret renewed. The issuer is an
existing ClusterIssuer, or a Let's Encrypt one declared here: ACME with HTTP-01 answered through an Ingress of
the entry's class (cert-manager runs a solver pod in the namespace for each challenge). The ACME account key
is a Secret cert-manager creates in its own namespace, never part of Pulumi's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

CLUSTER_ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer"
# cert-manager labels the pods that answer HTTP-01 challenges; the solver listens on this port.
SOLVER_LABEL, SOLVER_PORT = "acme.cert-manager.io/http01-solver", 8089


@dataclass(frozen=True)
class AcmeIssuerArgs:
    email: str
    server: str
    ingress_class: Optional[str] = None


def issuer_spec(args: AcmeIssuerArgs, account_key_secret: str) -> dict:
    """A ClusterIssuer's spec (cert-manager.io/v1)."""
    ingress: dict = {"ingressClassName": args.ingress_class} if args.ingress_class else {}
    return {"acme": {
        "email": args.email,
        "server": args.server,
        "privateKeySecretRef": {"name": account_key_secret},
        "solvers": [{"http01": {"ingress": ingress}}],
    }}


class AcmeClusterIssuer(pulumi.ComponentResource):
    """A cert-manager ClusterIssuer for an ACME directory (Let's Encrypt by default) solving HTTP-01."""

    def __init__(self, name: str, args: AcmeIssuerArgs, labels: dict[str, str],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:kubernetes:AcmeClusterIssuer", name, None, opts)
        self.issuer = k8s.apiextensions.CustomResource(
            name,
            api_version="cert-manager.io/v1",
            kind="ClusterIssuer",
            metadata={"name": name, "labels": labels},
            spec=issuer_spec(args, f"{name}-account-key"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name: pulumi.Output[str] = self.issuer.metadata.apply(lambda m: m["name"] if isinstance(m, dict) else m.name)
        self.register_outputs({"name": self.name})


def solver_policy() -> dict:
    """The ingress controller reaches cert-manager's HTTP-01 solver pods (the namespace denies by default)."""
    return {
        "podSelector": {"matchLabels": {SOLVER_LABEL: "true"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"protocol": "TCP", "port": SOLVER_PORT}]}],
    }
