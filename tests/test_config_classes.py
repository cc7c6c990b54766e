"""Issue 11's classes of nonsense config, each refused on every target where it applies, before any
resource is declared, with a message naming the key and the fix; and the borderline input that must
stay accepted."""

from __future__ import annotations

import copy

import pytest

from tools.mocks import PROJECT, Run, run_program, stack_config

TARGET_STACK = {"docker": "dev", "kubernetes": "k8s", "aws": "prod", "alicloud": "alicloud"}
ARN = "arn:aws:acm:{}:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"
KUBECONFIG = ("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://k8s.example.com'}}]\n"
              "users: [{name: u, user: {token: kubeTokenQ77}}]\ncontexts: [{name: admin, context: {cluster: c, user: u}}]\n")
SECRET_VALUES = ("hunter2-pw", "kubeTokenQ77")


def merged(stack: str, overrides: dict) -> dict:
    """`overrides` deep-merged into the stack file's sections (None removes a key)."""
    base = {k.split(":", 1)[1]: v for k, v in stack_config(stack)[0].items()}
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            section = dict(out[key])
            for k, v in value.items():
                if v is None:
                    section.pop(k, None)
                else:
                    section[k] = v
            out[key] = section
        else:
            out[key] = value
    return {k: out.get(k) for k in set(out) | set(base)}


def rejected(target: str, overrides: dict, secret_keys: tuple[str, ...] = ()) -> str:
    stack = TARGET_STACK[target]
    run = Run()
    with pytest.raises(Exception) as raised:
        run_program(stack, overrides=merged(stack, overrides), secret_keys=secret_keys, run=run)
    message = str(raised.value)
    assert run.resources == [], "a rejected config declares nothing"
    assert "Traceback" not in message
    lines = message.splitlines()[1:]
    assert lines and all(line.startswith(f"  - {PROJECT}:") for line in lines), message
    assert "(stack)" not in message
    assert not any(secret in message for secret in SECRET_VALUES), message
    return message


def check(target, overrides, key, hint, secret_keys=()):
    message = rejected(target, overrides, secret_keys)
    assert f"{PROJECT}:{key}:" in message, message
    assert hint in message, message


ALL = tuple(TARGET_STACK)
CLUSTERS = ("kubernetes", "aws", "alicloud")
EXTERNAL_PG = {"mode": "external", "host": "db.example.com", "password": "hunter2-pw"}

# (id, targets, overrides, secret keys, key, hint)
CASES = [
    # -- types coerced silently, numbers outside what they mean, nginx sizes nginx refuses
    ("bool-for-port", ALL, {"postgres": {**EXTERNAL_PG, "port": True}}, ("postgres",), "postgres.port", "not true"),
    ("bool-for-db-index", ALL, {"redis": {"db": True}}, (), "redis.db", "give a number"),
    ("bool-for-http-port", ("docker",), {"docker": {"httpPort": True}}, (), "docker.httpPort", "give a number"),
    ("port-out-of-range", ("docker",), {"docker": {"httpsPort": 70000}}, (), "docker.httpsPort", "65535"),
    ("zero-upload-limit", ALL, {"dify": {"uploadFileSizeLimitMb": 0}}, (), "dify.uploadFileSizeLimitMb", "1"),
    ("bool-for-count", ("aws",), {"aws": {"availabilityZones": True}}, (), "aws.availabilityZones", "number"),
    ("disk-too-small", ("aws",), {"aws": {"nodeDiskGb": 5}}, (), "aws.nodeDiskGb", "20"),
    ("bool-for-node-count", ("alicloud",), {"alicloud": {"nodeCount": True}}, (), "alicloud.nodeCount", "number"),
    ("bool-for-gb", ("alicloud",), {"alicloud": {"rds": {"storageGb": True}}}, (), "alicloud.rds.storageGb", "number"),
    ("number-for-bool", ALL, {"redis": {"useTls": 1}}, (), "redis.useTls", "true or false"),
    ("nginx-size-overflow", ALL, {"dify": {"requestBodyLimit": "9999999999G"}}, (), "dify.requestBodyLimit",
     "larger than nginx"),
    ("nginx-size-unit", ALL, {"dify": {"requestBodyLimit": "100MB"}}, (), "dify.requestBodyLimit", "nginx size"),
    ("nginx-size-fraction", ("docker",), {"dify": {"requestBodyLimit": "1.5G"}}, (), "dify.requestBodyLimit",
     "nginx size"),
    ("body-limit-below-uploads", ALL, {"dify": {"requestBodyLimit": "10M"}}, (), "dify.requestBodyLimit",
     "dify.uploadFileSizeLimitMb"),
    ("float-version", ("aws",), {"aws": {"kubernetesVersion": 1.3}}, (), "aws.kubernetesVersion", "--type string"),
    ("number-for-text", ALL, {"registry": {"mirror": 5000}}, (), "registry.mirror", "--type string"),
    # -- impossible combinations
    ("ports-collide", ("docker",), {"docker": {"httpPort": 8443, "httpsPort": 8443, "tls": {
        "certificate": "-----BEGIN CERTIFICATE-----\nx\n", "key": "-----BEGIN PRIVATE KEY-----\nx\n"}}},
     ("docker",), "docker.httpsPort", "different ports"),
    ("password-for-self-hosted-postgres", ("docker", "kubernetes"), {"postgres": {"password": "hunter2-pw"}},
     ("postgres",), "postgres.password", "generates its own"),
    ("password-for-managed-redis", ("aws", "alicloud"), {"redis": {"password": "hunter2-pw"}}, ("redis",),
     "redis.password", "generates its own"),
    ("keys-for-managed-storage", ("aws", "alicloud"), {"objectStorage": {"accessKey": "hunter2-pw"}},
     ("objectStorage",), "objectStorage.accessKey", "own endpoint and credentials"),
    ("host-for-self-hosted-redis", ("docker", "kubernetes"), {"redis": {"host": "cache.example.com"}}, (),
     "redis.host", "own address"),
    ("tls-for-self-hosted-redis", ("docker", "kubernetes"), {"redis": {"useTls": True}}, (), "redis.useTls",
     "own address"),
    ("no-tls-for-elasticache", ("aws",), {"redis": {"useTls": False}}, (), "redis.useTls", "always requires TLS"),
    ("aws-section-on-docker", ("docker",), {"aws": {"region": "us-east-1"}}, (), "aws", "applies to target aws"),
    ("kubernetes-section-on-docker", ("docker",), {"kubernetes": {"namespace": "x"}}, (), "kubernetes",
     "applies to target"),
    ("docker-section-on-clusters", CLUSTERS, {"docker": {"httpPort": 8080}}, (), "docker", "applies to target docker"),
    ("kubeconfig-on-cloud", ("aws", "alicloud"), {"kubernetes": {"context": "admin"}}, (), "kubernetes.context",
     "connects to the cluster it creates"),
    ("alicloud-section-on-aws", ("aws",), {"alicloud": {"region": "cn-hangzhou"}}, (), "alicloud", "not aws"),
    ("aws-section-on-alicloud", ("alicloud",), {"aws": {"region": "us-east-1"}}, (), "aws", "not alicloud"),
    ("autoscaling-overrides-count", ("alicloud",),
     {"alicloud": {"nodeCount": 6, "autoscaling": {"minSize": 2, "maxSize": 6}}},
     (), "alicloud.nodeCount", "autoscal"),
    ("range-overrides-desired", ("aws",), {"aws": {"nodeMinSize": 10, "nodeMaxSize": 12}}, (),
     "aws.nodeMinSize/nodeDesiredSize/nodeMaxSize", "min <= desired <= max"),
    ("empty-user", ALL, {"postgres": {"user": ""}}, (), "postgres.user", "empty"),
    ("empty-context", ("kubernetes",), {"kubernetes": {"context": "  "}}, (), "kubernetes.context", "empty"),
    ("empty-region", ALL, {"objectStorage": {"mode": "external", "kind": "oss", "bucket": "files",
                                            "endpoint": "https://oss.example.com", "region": "",
                                            "useWorkloadIdentity": True}}, (), "objectStorage.region", "empty"),
    # -- names the receiving system would refuse
    ("pg-database-hyphen", ("docker", "kubernetes"), {"postgres": {"database": "dify-prod"}}, (), "postgres.database",
     "PostgreSQL identifier"),
    ("pg-user-too-long", ALL, {"postgres": {"user": "u" * 64}}, (), "postgres.user", "63 bytes"),
    ("pg-plugin-db-upper", ("aws", "alicloud"), {"postgres": {"pluginDatabase": "Plugins"}}, (),
     "postgres.pluginDatabase", "lower-case"),
    ("s3-bucket-dots", ("aws",), {"objectStorage": {"bucket": "my..bucket"}}, (), "objectStorage.bucket", "adjacent"),
    ("oss-bucket-dot", ("alicloud",), {"objectStorage": {"bucket": "my.bucket"}}, (), "objectStorage.bucket", "OSS"),
    ("bucket-ip", ("docker", "kubernetes"), {"objectStorage": {"bucket": "192.168.1.1"}}, (), "objectStorage.bucket",
     "IP address"),
    ("bucket-reserved", ("docker",), {"objectStorage": {"bucket": "xn--files"}}, (), "objectStorage.bucket",
     "reserves"),
    ("tls-secret-name", ("kubernetes",), {"kubernetes": {"ingress": {"tlsSecret": "Dify_TLS"}}}, (),
     "kubernetes.ingress.tlsSecret", "TLS Secret"),
    ("ingress-class-name", ("kubernetes",), {"kubernetes": {"ingress": {"className": "nginx class"}}}, (),
     "kubernetes.ingress.className", "IngressClass"),
    ("lb-class", ("kubernetes",), {"kubernetes": {"loadBalancer": {"loadBalancerClass": "my lb/class"}}}, (),
     "kubernetes.loadBalancer.loadBalancerClass", "qualified name"),
    ("storage-class", CLUSTERS, {"kubernetes": {"storageClass": "Fast_SSD"}}, (), "kubernetes.storageClass",
     "StorageClass"),
    ("mirror-upper-case", ("docker", "kubernetes", "alicloud"), {"registry": {"mirror": "Docker.M.DaoCloud.io"}}, (),
     "registry.mirror", "lower case"),
    ("mirror-bad-port", ("docker",), {"registry": {"mirror": "mirror.example.com:99999"}}, (), "registry.mirror",
     "65535"),
    ("mirror-bad-path", ("kubernetes",), {"registry": {"mirror": "mirror.example.com/dock--er_"}}, (),
     "registry.mirror", "path component"),
    ("mirror-space", ("docker",), {"registry": {"mirror": "mirror example.com"}}, (), "registry.mirror", "spaces"),
    ("url-without-host", ALL, {"dify": {"pipMirrorUrl": "https:///simple"}}, (), "dify.pipMirrorUrl", "host"),
    ("url-with-space", ("alicloud",), {"dify": {"pipMirrorUrl": "https://pypi mirror/simple"}}, (),
     "dify.pipMirrorUrl", "spaces"),
    ("endpoint-without-host", ("docker", "kubernetes"),
     {"objectStorage": {"mode": "external", "kind": "s3-compatible", "bucket": "files", "endpoint": "http://:9000",
                        "useWorkloadIdentity": True}}, (), "objectStorage.endpoint", "host"),
    ("docker-host-bad-port", ("docker",), {"docker": {"host": "ssh://deploy@dify-host:99999"}}, (), "docker.host",
     "65535"),
    ("docker-host-space", ("docker",), {"docker": {"host": "ssh://deploy@dify host"}}, (), "docker.host",
     "Docker host URL"),
    ("docker-host-port-text", ("docker",), {"docker": {"host": "tcp://dify-host:docker"}}, (), "docker.host", "port"),
    ("db-host-with-port", ("docker", "kubernetes"), {"postgres": {**EXTERNAL_PG, "host": "db.example.com:5432"}},
     ("postgres",), "postgres.host", "DNS host name"),
    ("ip-looking-host", ("kubernetes",), {"redis": {"mode": "external", "host": "10.0.0.300", "password": "hunter2-pw"}},
     ("redis",), "redis.host", "looks like an IP address"),
    ("ip-looking-domain", ALL, {"domain": "203.0.113.999"}, (), "domain", "looks like an IP address"),
    # -- cloud consistency
    ("acm-other-region", ("aws",), {"aws": {"hostedZone": None, "certificateArn": ARN.format("eu-west-1")}}, (),
     "aws.certificateArn", "only their own region"),
    ("slb-cert-other-region", ("alicloud",), {"alicloud": {"certificateId": "1234567-cn-shanghai"}}, (),
     "alicloud.certificateId", "cn-hangzhou"),
    ("zones-of-other-region", ("alicloud",), {"alicloud": {"zones": ["cn-shanghai-a", "cn-shanghai-b"]}}, (),
     "alicloud.zones", "not of alicloud.region"),
    ("zone-as-aws-region", ("aws",), {"aws": {"region": "us-east-1a"}}, (), "aws.region", "availability zone"),
    ("zone-as-alicloud-region", ("alicloud",), {"alicloud": {"region": "cn-hangzhou-j", "zones": None}}, (),
     "alicloud.region", "zone ID"),
    ("subnet-twice", ("aws",), {"aws": {"vpcId": "vpc-0123456789abcdef0",
                                        "privateSubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef0"],
                                        "publicSubnetIds": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]}},
     (), "aws.privateSubnetIds", "twice"),
    ("subnet-private-and-public", ("aws",), {"aws": {
        "vpcId": "vpc-0123456789abcdef0", "privateSubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
        "publicSubnetIds": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]}}, (), "aws.publicSubnetIds",
     "both private and public"),
    ("vswitch-node-and-pod", ("alicloud",), {"alicloud": {"vpcId": "vpc-abc", "vswitchIds": ["vsw-a", "vsw-b"],
                                                         "podVswitchIds": ["vsw-b", "vsw-c"]}}, (),
     "alicloud.podVswitchIds", "both a node and a pod vSwitch"),
    ("ec2-size", ("aws",), {"aws": {"nodeInstanceTypes": ["m6i.huge"]}}, (), "aws.nodeInstanceTypes", "EC2"),
    ("rds-class", ("aws",), {"aws": {"rdsInstanceClass": "db.m7g"}}, (), "aws.rdsInstanceClass", "RDS"),
    ("cache-node", ("aws",), {"aws": {"redisNodeType": "cache.r7g.large.x"}}, (), "aws.redisNodeType", "ElastiCache"),
    ("ecs-size", ("alicloud",), {"alicloud": {"nodeInstanceTypes": ["ecs.g7.2xl"]}}, (), "alicloud.nodeInstanceTypes",
     "ECS"),
    ("ali-rds-class", ("alicloud",), {"alicloud": {"rds": {"instanceType": "pg.n2.large"}}}, (),
     "alicloud.rds.instanceType", "RDS PostgreSQL"),
    ("kvstore-class", ("alicloud",), {"alicloud": {"kvstore": {"instanceClass": "redis.shard"}}}, (),
     "alicloud.kvstore.instanceClass", "KVStore"),
    ("slb-spec", ("alicloud",), {"alicloud": {"loadBalancerSpec": "slb.s9.small"}}, (), "alicloud.loadBalancerSpec",
     "CLB"),
    ("public-vpc-alicloud", ("alicloud",), {"alicloud": {"vpcCidr": "8.8.0.0/16"}}, (), "alicloud.vpcCidr", "private"),
    ("loopback-vpc-alicloud", ("alicloud",), {"alicloud": {"vpcCidr": "127.0.0.0/16"}}, (), "alicloud.vpcCidr",
     "private"),
    ("reserved-vpc-aws", ("aws",), {"aws": {"vpcCidr": "169.254.0.0/16"}}, (), "aws.vpcCidr", "reserved"),
    # -- list semantics
    ("empty-api-cidrs", ("aws",), {"aws": {"apiAccessCidrs": []}}, (), "aws.apiAccessCidrs", "every address"),
    ("private-api-cidrs", ("aws",), {"aws": {"apiAccessCidrs": ["10.0.0.0/8"]}}, (), "aws.apiAccessCidrs", "public"),
    ("api-cidr-host-bits", ("aws",), {"aws": {"apiAccessCidrs": ["203.0.113.5/24"]}}, (), "aws.apiAccessCidrs",
     "203.0.113.0/24"),
    # -- content that must parse
    ("kubeconfig-not-yaml", ("kubernetes",), {"kubernetes": {"kubeconfig": "kubeTokenQ77: [unclosed"}},
     ("kubernetes",), "kubernetes.kubeconfig", "not a kubeconfig"),
    ("kubeconfig-wrong-kind", ("kubernetes",), {"kubernetes": {"kubeconfig": "kind: Pod\nclusters: []\n"}},
     ("kubernetes",), "kubernetes.kubeconfig", "not a kubeconfig"),
    ("kubeconfig-context-missing", ("kubernetes",), {"kubernetes": {"kubeconfig": KUBECONFIG, "context": "prod"}},
     ("kubernetes",), "kubernetes.context", "admin"),
]


@pytest.mark.parametrize(
    "target, overrides, secret_keys, key, hint",
    [pytest.param(t, o, s, k, h, id=f"{i}-{t}") for i, targets, o, s, k, h in CASES for t in targets],
)
def test_nonsense_is_refused_naming_the_key_and_the_fix(target, overrides, secret_keys, key, hint):
    check(target, overrides, key, hint, secret_keys)


# -- messages -------------------------------------------------------------------------------------

@pytest.mark.parametrize("target, overrides, suggestion", [
    ("docker", {"postgres": {"username": "dify"}}, "postgres.user"),
    ("kubernetes", {"redis": {"tls": True}}, "redis.useTls"),
    ("aws", {"aws": {"instanceTypes": ["m6i.large"]}}, "aws.nodeInstanceTypes"),
    ("alicloud", {"alicloud": {"availabilityZones": ["cn-hangzhou-j"]}}, "alicloud.zones"),
    ("kubernetes", {"namespace": "dify"}, "kubernetes.namespace"),
    ("docker", {"dify": {"env": {"api": {"X": "1"}}}}, "dify.extraEnv"),
    ("kubernetes", {"kubernetes": {"load_balancer": {}}}, "kubernetes.loadBalancer"),
])
def test_did_you_mean_finds_the_key_close_in_meaning_or_spelling(target, overrides, suggestion):
    assert f"did you mean `{suggestion}`" in rejected(target, overrides)


def test_cross_field_errors_are_all_reported_each_naming_its_key():
    message = rejected("kubernetes", {"target": "docker", "size": "small", "postgres": {"mode": "managed"}})
    for key in ("size", "postgres.mode", "kubernetes"):
        assert f"{PROJECT}:{key}:" in message, message


@pytest.mark.parametrize("target", ALL)
def test_a_missing_secret_is_asked_for_with_secret(target):
    message = rejected(target, {"postgres": {"mode": "external", "host": "db.example.com"}})
    assert f"{PROJECT}:postgres.password:" in message and "--secret" in message


# -- legitimate input stays accepted ---------------------------------------------------------------

@pytest.mark.parametrize("target, overrides", [
    ("docker", {"dify": {"extraEnv": {"api": {"WORKERS": 4, "DEBUG": True}}, "requestBodyLimit": 104857600}}),
    ("kubernetes", {"kubernetes": {"namespace": "dify", "loadBalancer": {"annotations": {
        "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": True,
        "example.com/weight": 10}}}}),
    ("kubernetes", {"kubernetes": {"namespace": "dify", "entry": "ingress", "ingress": {
        "className": "nginx", "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": 0}}}}),
    ("aws", {"aws": {"postgresVersion": 17}}),
    ("alicloud", {"alicloud": {"kubernetesVersion": "1.33.1-aliyun.1"}}),
    ("alicloud", {"redis": {"useTls": True}}),
    ("docker", {"dify": {"requestBodyLimit": "0"}}),
    ("docker", {"registry": {"mirror": "registry.example.com:5000/dockerhub/"}}),
    ("docker", {"docker": {"host": "ssh://deploy@[2001:db8::5]:2222"}}),
    ("docker", {"postgres": {"mode": "external", "host": "db.example.com", "password": 123456,
                             "database": "Dify-Prod"}}),
])
def test_borderline_input_that_makes_sense_is_accepted(target, overrides):
    stack = TARGET_STACK[target]
    secret = tuple(k for k in overrides if k == "postgres")
    run = run_program(stack, overrides=merged(stack, overrides), secret_keys=secret)
    assert run.resources
