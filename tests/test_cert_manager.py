"""cert-manager certificates for the Ingress (target kubernetes): the annotation and Secret the Ingress names, the
Let's Encrypt ClusterIssuer the program declares (checked against cert-manager's own CRD schema), the way in
for its HTTP-01 solver pods, and the combinations refused."""

from __future__ import annotations

import os
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.kubernetes.cert_manager import SOLVER_LABEL, SOLVER_PORT
from tests.change_plan import cached_run
from tools.mocks import run_program

ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DOMAIN = {"domain": "dify.example.com"}
CERT_MANAGER_VERSION = "v1.21.2"
PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"


def _ingress(**ingress) -> dict:
    return {**DOMAIN, "kubernetes": {"entry": "ingress", "ingress": ingress}}


@pytest.fixture(scope="module")
def created():
    return cached_run("k8s", _ingress(acmeEmail="ops@example.com", className="nginx"))


def test_the_ingress_names_the_issuer_and_the_secret_cert_manager_fills(created):
    (ingress,) = created.of_type(INGRESS)
    assert ingress.inputs["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "dify-k8s-letsencrypt"
    assert ingress.inputs["spec"]["tls"] == [{"hosts": ["dify.example.com"], "secretName": "dify-k8s-ingress-tls"}]
    assert created.outputs["certificateIssuer"] == "dify-k8s-letsencrypt"
    assert created.outputs["tlsSecret"] == "dify-k8s-ingress-tls"
    assert created.outputs["difyUrl"] == "https://dify.example.com"
    # No certificate or key passes through the program: cert-manager writes the Secret.
    assert not [r for r in created.resources if r.typ == "kubernetes:core/v1:Secret"
                and "tls" in r.inputs.get("type", "")]


def test_the_program_declares_a_lets_encrypt_cluster_issuer_solving_http01_through_the_ingress_class(created):
    (issuer,) = created.of_type(ISSUER)
    assert issuer.inputs["metadata"]["name"] == "dify-k8s-letsencrypt"
    assert "namespace" not in issuer.inputs["metadata"]  # cluster-scoped
    assert issuer.inputs["spec"] == {"acme": {
        "email": "ops@example.com",
        "server": "https://acme-v02.api.letsencrypt.org/directory",
        "privateKeySecretRef": {"name": "dify-k8s-letsencrypt-account-key"},
        "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}],
    }}


def test_the_solver_pods_are_reachable_on_their_port_only(created):
    (policy,) = [p for p in created.of_type(POLICY) if p.inputs["metadata"]["name"] == "dify-acme-solver"]
    assert policy.inputs["spec"] == {
        "podSelector": {"matchLabels": {SOLVER_LABEL: "true"}}, "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"protocol": "TCP", "port": SOLVER_PORT}]}]}


def _crd_dir() -> Path:
    found = os.environ.get("CERT_MANAGER_CRDS")
    cached = Path.home() / "go" / "pkg" / "mod" / "github.com" / "cert-manager" / f"cert-manager@{CERT_MANAGER_VERSION}"
    if found:
        return Path(found)
    if (cached / "deploy" / "crds").exists():
        return cached / "deploy" / "crds"
    message = "cert-manager's CRDs are missing: run scripts/tools/cert-manager-crds.sh (Go module proxy)"
    if os.environ.get("DIFY_REQUIRE_ACME_TOOLS"):
        pytest.fail(message)
    pytest.skip(message)


def _closed(schema):
    """The schema with unknown fields refused: the API server would prune them silently (a typo lost)."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {k: _closed(v) for k, v in schema.items()}
    if ("properties" in schema and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        closed["additionalProperties"] = False
    return closed


@pytest.mark.parametrize("overrides", [
    {"acmeEmail": "ops@example.com", "className": "nginx"},
    {"acmeEmail": "ops@example.com", "acmeStaging": True},
])
def test_the_cluster_issuer_is_valid_for_cert_managers_crd(overrides):
    crd = yaml.safe_load((_crd_dir() / "cert-manager.io_clusterissuers.yaml").read_text())
    assert crd["spec"]["scope"] == "Cluster"
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = _closed(version["schema"]["openAPIV3Schema"])
    (issuer,) = cached_run("k8s", _ingress(**overrides)).of_type(ISSUER)
    document = {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": issuer.inputs["metadata"],
                "spec": issuer.inputs["spec"]}
    jsonschema.Draft7Validator(schema).validate(document)
    misspelled = {**document, "spec": {"acme": {**document["spec"]["acme"], "privateKeyRef": {"name": "x"}}}}
    assert not jsonschema.Draft7Validator(schema).is_valid(misspelled)
    # The schema has the fields the program relies on (an older CRD would prune them silently).
    http01 = schema["properties"]["spec"]["properties"]["acme"]["properties"]["solvers"]["items"]["properties"]["http01"]
    assert "ingressClassName" in http01["properties"]["ingress"]["properties"]


def test_staging_gets_its_own_issuer():
    run = cached_run("k8s", _ingress(acmeEmail="ops@example.com", acmeStaging=True))
    (issuer,) = run.of_type(ISSUER)
    assert issuer.inputs["metadata"]["name"] == "dify-k8s-letsencrypt-staging"
    assert issuer.inputs["spec"]["acme"]["server"] == "https://acme-staging-v02.api.letsencrypt.org/directory"
    assert issuer.inputs["spec"]["acme"]["solvers"] == [{"http01": {"ingress": {}}}]  # the default class


def test_an_existing_cluster_issuer_is_only_named():
    run = cached_run("k8s", _ingress(clusterIssuer="letsencrypt-prod"))
    assert not run.of_type(ISSUER)
    (ingress,) = run.of_type(INGRESS)
    assert ingress.inputs["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    assert ingress.inputs["spec"]["tls"][0]["secretName"] == "dify-k8s-ingress-tls"
    assert [p for p in run.of_type(POLICY) if p.inputs["metadata"]["name"] == "dify-acme-solver"]


@pytest.mark.parametrize("overrides, secret_keys, key, hint", [
    (_ingress(clusterIssuer="letsencrypt-prod", acmeEmail="ops@example.com"), (),
     "kubernetes.ingress.acmeEmail", "set only one"),
    (_ingress(acmeEmail="ops@example.com", tlsSecret="dify-tls"), (), "kubernetes.ingress.acmeEmail", "tlsSecret"),
    ({**_ingress(acmeEmail="ops@example.com"), "kubernetes": {
        "entry": "ingress", "ingress": {"acmeEmail": "ops@example.com"},
        "tls": {"certificate": PEM_CERT, "key": PEM_KEY}}}, ("kubernetes",), "kubernetes.tls", "keep only one"),
    ({**DOMAIN, "kubernetes": {"ingress": {"clusterIssuer": "letsencrypt-prod"}}}, (),
     "kubernetes.ingress.clusterIssuer", "kubernetes.entry ingress"),
    ({"kubernetes": {"entry": "ingress", "ingress": {"acmeEmail": "ops@example.com"}}}, (), "domain", "needs `domain`"),
    ({"domain": "203.0.113.10", "kubernetes": {"entry": "ingress", "ingress": {"acmeEmail": "ops@example.com"}}}, (),
     "domain", "IP address"),
    (_ingress(acmeEmail="ops@@example.com"), (), "kubernetes.ingress.acmeEmail", "not an e-mail address"),
    (_ingress(acmeStaging=True), (), "kubernetes.ingress.acmeStaging", "kubernetes.ingress.acmeEmail"),
    (_ingress(acmeEmail="ops@example.com", acmeServer="http://ca.internal/directory"), (),
     "kubernetes.ingress.acmeServer", "https"),
    (_ingress(clusterIssuer="Lets_Encrypt"), (), "kubernetes.ingress.clusterIssuer", "ClusterIssuer"),
])
def test_wrong_cert_manager_config_is_rejected_naming_the_key(overrides, secret_keys, key, hint):
    with pytest.raises(Exception) as raised:
        run_program("k8s", overrides=overrides, secret_keys=secret_keys)
    message = str(raised.value)
    assert key in message and hint in message, message
