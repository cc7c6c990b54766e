"""Config of the `kubernetes` target: defaults, the cluster connection, and rejections naming the key."""

import pytest

from stacks.config import StackConfig
from tools.mocks import Run, is_secret, run_program, stack_config

PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"
KUBECONFIG = ("apiVersion: v1\nkind: Config\nusers: [{name: admin, user: {token: kubeTokenXq81}}]\n"
              "contexts: [{name: prod-admin, context: {cluster: prod, user: admin}}]\n")


def test_k8s_stack_file_defaults():
    raw, _ = stack_config("k8s")
    config = StackConfig.model_validate({k.split(":", 1)[1]: v for k, v in raw.items()})
    assert config.target == "kubernetes" and config.size == "dev"
    k = config.kubernetes
    assert (k.namespace, k.entry, k.load_balancer.cloud, k.network_policies) == ("dify", "loadBalancer", "generic", True)
    assert k.kubeconfig is None and k.context is None and k.keep_data_on_destroy
    assert not k.allow_self_hosted_data_in_production


def test_cluster_connection_comes_from_config_and_the_kubeconfig_stays_secret():
    run = run_program("k8s", overrides={"kubernetes": {"kubeconfig": KUBECONFIG, "context": "prod-admin",
                                                       "namespace": "dify-prod"}},
                      secret_keys=("kubernetes",))
    provider = run.of_type("pulumi:providers:kubernetes")[0]
    assert is_secret(provider.inputs["kubeconfig"])
    assert provider.inputs["context"] == "prod-admin"
    assert provider.inputs["namespace"] == "dify-prod"
    assert all("kubeTokenXq81" not in str(r.plain) for r in run.resources if r is not provider)


def test_ambient_kubeconfig_by_default():
    provider = run_program("k8s").of_type("pulumi:providers:kubernetes")[0]
    assert "kubeconfig" not in provider.inputs and "context" not in provider.inputs


def test_self_hosted_data_in_production_only_when_asked():
    """(With kubernetes.allowSelfHostedDataInProduction the run goes through: see test_kubernetes.)"""
    with pytest.raises(Exception) as raised:
        run_program("k8s", overrides={"size": "production"})
    message = str(raised.value)
    for key in ("postgres.mode", "redis.mode", "objectStorage.mode", "kubernetes.allowSelfHostedDataInProduction"):
        assert key in message, message


@pytest.mark.parametrize(
    ("overrides", "secret_keys", "key", "hint"),
    [
        ({"target": "docker", "size": "production"}, (), "size", "cluster target"),
        ({"size": "huge"}, (), "size", "'dev', 'small' or 'production'"),
        ({"postgres": {"mode": "managed"}}, (), "postgres.mode", "on kubernetes use self-hosted or external"),
        ({"kubernetes": {"namespace": "Dify_Prod"}}, (), "kubernetes.namespace", "lower-case"),
        ({"kubernetes": {"sandboxNamespace": "Sandbox"}}, (), "kubernetes.sandboxNamespace", "lower-case"),
        ({"kubernetes": {"clusterDomain": "cluster local"}}, (), "kubernetes.clusterDomain", "cluster.local"),
        ({"kubernetes": {"isolation": {"clusterCidrs": ["10.0.0.1/8"]}}}, (), "kubernetes.isolation.clusterCidrs",
         "host bits"),
        ({"kubernetes": {"isolation": {"dnsAddresses": ["fd00::10/128"]}}}, (), "kubernetes.isolation.dnsAddresses",
         "IPv4"),
        ({"postgres": {"mode": "external", "host": "db.internal", "password": "pw-Xq81"}}, ("postgres",),
         "kubernetes.isolation.dataCidrs.postgres", "address range"),
        ({"docker": {"networkPool": "10.0.0.0/26"}, "target": "docker"}, (), "docker.networkPool", "/22 or larger"),
        ({"kubernetes": {"namspace": "dify"}}, (), "kubernetes.namspace", "did you mean `kubernetes.namespace`"),
        ({"kubernetes": {"kubeconfig": KUBECONFIG}}, (), "kubernetes.kubeconfig", "--secret"),
        ({"kubernetes": {"entry": "hostPort"}}, (), "kubernetes.entry", "'nodePort' or 'clusterIP'"),
        ({"kubernetes": {"loadBalancer": {"certificate": ARN}}}, (), "kubernetes.loadBalancer.certificate",
         "kubernetes.loadBalancer.cloud aws or alicloud"),
        ({"kubernetes": {"loadBalancer": {"cloud": "aws", "certificate": "my-cert"}}}, (),
         "kubernetes.loadBalancer.certificate", "ACM certificate ARN"),
        ({"kubernetes": {"loadBalancer": {"sourceRanges": ["office"]}}}, (), "kubernetes.loadBalancer.sourceRanges",
         "CIDR"),
        ({"kubernetes": {"loadBalancer": {"cloud": "aws", "certificate": ARN},
                         "tls": {"certificate": PEM_CERT, "key": PEM_KEY}}}, ("kubernetes",),
         "kubernetes.tls", "set only one"),
        ({"kubernetes": {"entry": "ingress", "loadBalancer": {"cloud": "aws", "certificate": ARN}}}, (),
         "kubernetes.loadBalancer.certificate", "entry loadBalancer"),
        ({"kubernetes": {"entry": "ingress", "ingress": {"tlsSecret": "dify-tls"}}}, (), "domain", "ingress"),
        ({"kubernetes": {"tls": {"certificate": "nope", "key": PEM_KEY}}}, ("kubernetes",),
         "kubernetes.tls.certificate", "PEM"),
        ({"kubernetes": {"storageClass": "Fast SSD"}}, (), "kubernetes.storageClass", "StorageClass"),
    ],
)
def test_wrong_kubernetes_config_is_rejected_naming_the_key(overrides, secret_keys, key, hint):
    run = Run()
    with pytest.raises(Exception) as raised:
        run_program("k8s", overrides=overrides, secret_keys=secret_keys, run=run)
    message = str(raised.value)
    assert key in message, message
    assert hint in message, message
    assert "kubeTokenXq81" not in message and "MIIE" not in message
    assert run.resources == [], "a rejected config declares nothing"
