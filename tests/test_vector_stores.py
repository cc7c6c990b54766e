"""vectorStore.kind on every target under mocks: the resources each kind creates, Dify's env for the
services that use the store (names checked against upstream's files), secrets only in Secrets, and the
config errors (each naming its key)."""

from __future__ import annotations

import json

import pytest

from components.dify.releases import RELEASES
from tests.test_kubernetes import assert_secrets_only_in_secrets, by_service, env_of
from tests.test_upstream_releases import upstream_keys
from tools.mocks import run_program

VECTOR_PREFIXES = ("VECTOR_STORE", "PGVECTOR_", "OPENSEARCH_", "ANALYTICDB_", "TABLESTORE_", "QDRANT_", "WEAVIATE_",
                   "MILVUS_")
USERS = ("api", "worker")
NOT_USERS = ("beat", "api-websocket", "migrate", "plugin-daemon", "web")
QDRANT = {"kind": "external", "engine": "qdrant", "url": "https://qdrant.example.com:6333", "apiKey": "qdKey-Hx81"}


def users(services: dict) -> list[str]:
    """The api and the worker, or in production every worker pool (each indexes its own queues' tasks)."""
    return [n for n in services if n == "api" or n == "worker" or n.startswith("worker-")]


def worker_of(services: dict) -> str:
    return "worker" if "worker" in services else "worker-dataset"


def vector_env(env: dict) -> dict:
    return {k: v for k, v in env.items() if k.startswith(VECTOR_PREFIXES)}


def plain_value(entry: dict):
    return entry.get("value")


def assert_env_is_upstreams(services: dict) -> None:
    """The store's keys do not depend on the release: each must be one every release in the table defines."""
    for version in RELEASES:
        for service in users(services):
            upstream = upstream_keys(version, "worker" if service.startswith("worker") else service)
            unknown = set(vector_env(env_of(services[service]))) - upstream
            assert not unknown, (version, service, unknown)


def assert_only_users_have_it(services: dict) -> None:
    for service in users(services):
        assert "VECTOR_STORE" in env_of(services[service]), service
    for service in NOT_USERS:
        if service in services:
            assert not vector_env(env_of(services[service])), service


def test_pgvector_stays_in_the_database_by_default():
    services = by_service(run_program("k8s"))
    for service in USERS:
        env = env_of(services[service])
        assert plain_value(env["VECTOR_STORE"]) == "pgvector"
        assert plain_value(env["PGVECTOR_HOST"]) == plain_value(env["DB_HOST"])
        assert plain_value(env["PGVECTOR_DATABASE"]) == plain_value(env["DB_DATABASE"])
    assert_only_users_have_it(services)


def test_docker_reaches_an_external_store_through_the_services_own_route_out():
    run = run_program("dev", overrides={"vectorStore": QDRANT}, secret_keys=("vectorStore",))
    containers = {c.name.removeprefix("dify-dev-"): c for c in run.of_type("docker:index/container:Container")}
    envs = {n: dict(i.split("=", 1) for i in c.plain["envs"]) for n, c in containers.items()}
    for service in USERS:
        assert envs[service]["VECTOR_STORE"] == "qdrant"
        assert envs[service]["QDRANT_URL"] == "https://qdrant.example.com:6333"
        assert envs[service]["QDRANT_API_KEY"] == "qdKey-Hx81"
        assert not any(k.startswith("PGVECTOR_") for k in envs[service])
        networks = {n["name"] for n in containers[service].plain["networksAdvanced"]}
        assert f"dify-dev-net-egress-{service}" in networks
        assert all(set(vector_env(envs[service])) <= upstream_keys(v, service) for v in RELEASES)
    for service in ("beat", "api-websocket", "plugin-daemon"):
        assert not vector_env(envs[service]), service
    # Beat neither uses the store nor the internet: it has no route out.
    assert not any("egress" in n["name"] for n in containers["beat"].plain["networksAdvanced"])


@pytest.mark.parametrize("store, expected", [
    (QDRANT, {"QDRANT_URL"}),
    ({"kind": "external", "engine": "weaviate", "url": "http://10.30.4.8:8080", "apiKey": "wvKey-Pq27",
      "grpcEndpoint": "10.30.4.8:50051"}, {"WEAVIATE_ENDPOINT", "WEAVIATE_GRPC_ENDPOINT"}),
    ({"kind": "external", "engine": "milvus", "url": "https://in01.zillizcloud.com:19530", "apiKey": "mvTok-Lq93",
      "database": "dify"}, {"MILVUS_URI", "MILVUS_DATABASE"}),
    ({"kind": "external", "engine": "milvus", "url": "http://10.30.4.9:19530", "user": "dify",
      "password": "mvPass-Lq93"}, {"MILVUS_URI", "MILVUS_USER"}),
    ({"kind": "external", "engine": "opensearch", "url": "https://search.internal:9200", "user": "dify",
      "password": "osPass-Rt55"}, {"OPENSEARCH_HOST", "OPENSEARCH_PORT", "OPENSEARCH_SECURE", "OPENSEARCH_VERIFY_CERTS",
                                   "OPENSEARCH_AUTH_METHOD", "OPENSEARCH_USER"}),
])
def test_external_engines_on_kubernetes(store, expected):
    run = run_program("k8s", overrides={"vectorStore": store}, secret_keys=("vectorStore",))
    services = by_service(run)
    assert_only_users_have_it(services)
    assert_env_is_upstreams(services)
    env = env_of(services["api"])
    assert plain_value(env["VECTOR_STORE"]) == store["engine"]
    assert {k for k, v in vector_env(env).items() if "value" in v} == expected | {"VECTOR_STORE"}
    credentials = [v for k, v in store.items() if k in ("apiKey", "password")]
    assert all(k in env and "valueFrom" in env[k] for k in vector_env(env) if k not in expected | {"VECTOR_STORE"})
    assert_secrets_only_in_secrets(run, credentials, must_reach=credentials)
    if store["engine"] == "opensearch":
        assert plain_value(env["OPENSEARCH_HOST"]) == "search.internal"
        assert plain_value(env["OPENSEARCH_PORT"]) == "9200"
        assert plain_value(env["OPENSEARCH_AUTH_METHOD"]) == "basic"


def test_aws_opensearch_domain_in_the_vpc_signed_with_the_api_role():
    run = run_program("prod", overrides={"vectorStore": {"kind": "opensearch"}})
    domain = run.of_type("aws:opensearch/domain:Domain")
    assert len(domain) == 1
    d = domain[0].plain
    assert d["encryptAtRest"] == {"enabled": True} and d["nodeToNodeEncryption"] == {"enabled": True}
    assert d["domainEndpointOptions"]["enforceHttps"] is True
    assert d["domainEndpointOptions"]["tlsSecurityPolicy"].startswith("Policy-Min-TLS-1-2")
    cluster = d["clusterConfig"]
    assert cluster["zoneAwarenessEnabled"] is True and cluster["dedicatedMasterCount"] == 3
    zones = cluster["zoneAwarenessConfig"]["availabilityZoneCount"]
    assert cluster["instanceCount"] % zones == 0 and len(d["vpcOptions"]["subnetIds"]) == zones
    assert all("private" in s for s in d["vpcOptions"]["subnetIds"])
    assert d["ebsOptions"] == {"ebsEnabled": True, "volumeType": "gp3", "volumeSize": 200}
    assert "advancedSecurityOptions" not in d and "accessPolicies" not in d
    assert domain[0].options.get("protect") is True
    # Its own security group, open on 443 to the cluster's group only.
    rules = [r.plain for r in run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
             if r.name == "dify-prod-vectors-from-cluster"]
    assert rules and rules[0]["fromPort"] == rules[0]["toPort"] == 443 and "cidrIpv4" not in rules[0]
    assert d["vpcOptions"]["securityGroupIds"] == ["dify-prod-vectors-sg-id"]
    # The access policy names the api's role alone; the role may only send HTTP requests to the domain.
    api_role = run.named("aws:iam/role:Role", "dify-prod-dify-api")
    access = json.loads(run.of_type("aws:opensearch/domainPolicy:DomainPolicy")[0].plain["accessPolicies"])
    assert [s["Principal"] for s in access["Statement"]] == [{"AWS": f"arn:aws:iam::123456789012:role/"
                                                                     f"{api_role.name}-{_suffix_of(run, api_role)}"}]
    policy = json.loads(run.named("aws:iam/rolePolicy:RolePolicy", "dify-prod-dify-api-opensearch").plain["policy"])
    assert all(a.startswith("es:ESHttp") for s in policy["Statement"] for a in s["Action"])
    services = by_service(run)
    assert_only_users_have_it(services)
    assert_env_is_upstreams(services)
    env = env_of(services[worker_of(services)])
    assert plain_value(env["OPENSEARCH_AUTH_METHOD"]) == "aws_managed_iam"
    assert plain_value(env["OPENSEARCH_AWS_SERVICE"]) == "es"
    assert plain_value(env["OPENSEARCH_AWS_REGION"]) == "us-east-1"
    assert plain_value(env["OPENSEARCH_SECURE"]) == plain_value(env["OPENSEARCH_VERIFY_CERTS"]) == "true"
    assert plain_value(env["OPENSEARCH_HOST"]).endswith(".us-east-1.es.amazonaws.com")
    assert "OPENSEARCH_PASSWORD" not in env
    assert run.outputs["vectorStore"]["domainName"] == "dify-prod-vectors"


def _suffix_of(run, role) -> str:
    from tools.mocks.aws import _suffix
    return _suffix(role.name, 7)


def test_aws_opensearch_without_a_managed_bucket_still_gets_the_api_role():
    run = run_program("prod", overrides={
        "vectorStore": {"kind": "opensearch"},
        "objectStorage": {"mode": "external", "kind": "s3", "bucket": "dify-files", "region": "us-east-1",
                          "accessKey": "AKIAK8STEST0000", "secretKey": "s3Secret-Lm93"}}, secret_keys=("objectStorage",))
    role = run.named("aws:iam/role:Role", "dify-prod-dify-api")
    assert "vector store" in role.plain["description"]
    assert run.named("aws:iam/rolePolicy:RolePolicy", "dify-prod-dify-api-policy").plain["policy"] == json.dumps(
        {"Statement": [{"Action": ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut",
                                   "es:ESHttpDelete"], "Effect": "Allow",
                        "Resource": ["arn:aws:es:us-east-1:123456789012:domain/dify-prod-vectors/*"]}],
         "Version": "2012-10-17"}, sort_keys=True)
    accounts = {r.plain["metadata"]["name"]: r.plain["metadata"].get("annotations", {})
                for r in run.of_type("kubernetes:core/v1:ServiceAccount")}
    bound = {name for name, notes in accounts.items() if "eks.amazonaws.com/role-arn" in notes}
    assert bound == {"api", "worker-dataset", "worker-workflow", "worker-ops", "api-websocket"}

def test_aws_dev_opensearch_is_one_node_without_zone_awareness():
    run = run_program("prod", overrides={"size": "dev", "vectorStore": {"kind": "opensearch",
                                                                        "opensearch": {"volumeGb": 30}}})
    cluster = run.of_type("aws:opensearch/domain:Domain")[0].plain["clusterConfig"]
    assert cluster["instanceCount"] == 1 and cluster["zoneAwarenessEnabled"] is False
    assert "dedicatedMasterEnabled" not in cluster
    assert run.of_type("aws:opensearch/domain:Domain")[0].plain["ebsOptions"]["volumeSize"] == 30


@pytest.mark.parametrize("overrides, secret_keys, key, hint", [
    ({"vectorStore": {"kind": "opensearch"}}, (), "vectorStore.kind", "target aws"),
    ({"vectorStore": {"kind": "analyticdb"}}, (), "vectorStore.kind", "pgvector, external"),
    ({"vectorStore": {"kind": "external", "engine": "qdrant", "apiKey": "k"}}, ("vectorStore",), "vectorStore.url",
     "needs the store's URL"),
    ({"vectorStore": {"kind": "external", "engine": "qdrant", "url": "https://q.example.com"}}, (),
     "vectorStore.apiKey", "--secret"),
    ({"vectorStore": {"kind": "external", "url": "https://q.example.com", "apiKey": "k"}}, ("vectorStore",),
     "vectorStore.engine", "qdrant"),
    ({"vectorStore": {"kind": "external", "engine": "qdrant", "url": "https://q.example.com", "apiKey": "hunter2"}},
     (), "vectorStore.apiKey", "plain text"),
    ({"vectorStore": {"kind": "external", "engine": "opensearch", "url": "https://o.example.com", "user": "u"}},
     (), "vectorStore.password", "vectorStore.user"),
    ({"vectorStore": {"url": "https://q.example.com"}}, (), "vectorStore.url", "external only"),
    ({"vectorStore": {"kind": "external", "engine": "qdrant", "url": "qdrant:6333", "apiKey": "k"}},
     ("vectorStore",), "vectorStore.url", "scheme"),
    ({"vectorStore": {"kind": "external", "engine": "qdrant", "url": "https://q.example.com", "apiKey": "k",
                      "cidrs": ["10.0.0.0/33"]}}, ("vectorStore",), "vectorStore.cidrs", "address range"),
])
def test_wrong_vector_store_config_is_rejected_naming_the_key(overrides, secret_keys, key, hint):
    with pytest.raises(Exception) as raised:
        run_program("dev", overrides=overrides, secret_keys=secret_keys)
    message = str(raised.value)
    assert key in message, message
    assert hint in message, message
    assert "hunter2" not in message


def test_a_kind_of_another_cloud_is_refused_on_aws():
    with pytest.raises(Exception) as raised:
        run_program("prod", overrides={"vectorStore": {"kind": "tablestore"}})
    assert "vectorStore.kind" in str(raised.value) and "opensearch" in str(raised.value)


def test_alicloud_analyticdb_in_the_vpc_with_a_generated_privileged_account():
    run = run_program("alicloud", overrides={"vectorStore": {"kind": "analyticdb"}})
    instance = run.named("alicloud:gpdb/instance:Instance", "dify-alicloud-vectors-instance")
    i = instance.plain
    assert i["dbInstanceMode"] == "StorageElastic" and i["dbInstanceCategory"] == "HighAvailability"
    assert i["segNodeNum"] % 4 == 0 and i["instanceSpec"] == "4C32G" and i["segStorageType"] == "cloud_essd"
    assert i["vswitchId"] == "dify-alicloud-network-nodes-0-id" and i["instanceNetworkType"] == "VPC"
    assert i["ipWhitelists"] == [{"ipGroupName": "dify", "securityIpList": "192.168.0.0/16"}]
    assert i["vectorConfigurationStatus"] == "enabled"
    assert instance.options.get("protect") is True
    account = run.named("alicloud:gpdb/account:Account", "dify-alicloud-vectors-account")
    assert account.plain["accountType"] == "Super"
    password = account.plain["accountPassword"]
    assert password in run.secrets
    services = by_service(run)
    assert_only_users_have_it(services)
    assert_env_is_upstreams(services)
    env = env_of(services["api"])
    assert plain_value(env["VECTOR_STORE"]) == "analyticdb"
    assert plain_value(env["ANALYTICDB_HOST"]).endswith(".gpdb.rds.aliyuncs.com")
    assert plain_value(env["ANALYTICDB_ACCOUNT"]) == "dify_vectors"
    assert "ANALYTICDB_KEY_ID" not in env and "valueFrom" in env["ANALYTICDB_PASSWORD"]
    assert_secrets_only_in_secrets(run, [password], must_reach=[password])
    assert run.outputs["vectorStore"]["instanceId"] == instance.name + "-id"


def test_alicloud_tablestore_bound_to_the_vpc_with_a_key_scoped_to_the_instance():
    from tools.mocks.alicloud import ACCESS_KEY_SECRET

    run = run_program("alicloud", overrides={"vectorStore": {"kind": "tablestore"}})
    instance = run.named("alicloud:ots/instance:Instance", "dify-alicloud-vectors-instance").plain
    assert instance["accessedBy"] == "Vpc" and instance["networkTypeAcls"] == ["VPC"]
    name = instance["name"]
    assert 3 <= len(name) <= 16 and name[0].isalpha()
    binding = run.named("alicloud:ots/instanceAttachment:InstanceAttachment", "dify-alicloud-vectors-vpc").plain
    assert binding["instanceName"] == name and binding["vswitchId"] == "dify-alicloud-network-nodes-0-id"
    policy = json.loads(run.named("alicloud:ram/policy:Policy", "dify-alicloud-vectors-policy").plain["policyDocument"])
    resources = [r for s in policy["Statement"] for r in s["Resource"]]
    assert resources == [f"acs:ots:*:*:instance/{name}", f"acs:ots:*:*:instance/{name}/table/*"]
    attached = run.named("alicloud:ram/userPolicyAttachment:UserPolicyAttachment",
                         "dify-alicloud-vectors-user-policy").plain
    assert attached["policyType"] == "Custom"
    services = by_service(run)
    assert_only_users_have_it(services)
    assert_env_is_upstreams(services)
    env = env_of(services[worker_of(services)])
    assert plain_value(env["TABLESTORE_ENDPOINT"]) == f"https://{name}.cn-hangzhou.vpc.tablestore.aliyuncs.com"
    assert plain_value(env["TABLESTORE_INSTANCE_NAME"]) == name
    assert all("valueFrom" in env[k] for k in ("TABLESTORE_ACCESS_KEY_ID", "TABLESTORE_ACCESS_KEY_SECRET"))
    assert_secrets_only_in_secrets(run, [ACCESS_KEY_SECRET], must_reach=[ACCESS_KEY_SECRET])


def test_alicloud_dev_analyticdb_is_basic_with_two_segments():
    run = run_program("alicloud", overrides={"size": "dev", "vectorStore": {"kind": "analyticdb",
                                                                            "analyticdb": {"storageGb": 80}}})
    i = run.named("alicloud:gpdb/instance:Instance", "dify-alicloud-vectors-instance").plain
    assert (i["dbInstanceCategory"], i["instanceSpec"], i["segNodeNum"], i["storageSize"]) == ("Basic", "2C8G", 2, 80)


@pytest.mark.parametrize("stack, kinds", [("prod", ("opensearch",)), ("alicloud", ("analyticdb", "tablestore")),
                                          ("k8s", ("external",))])
def test_switching_the_vector_store_replaces_no_database(stack, kinds):
    from tests.change_plan import cached_run, stateful_losses

    before = cached_run(stack, {})
    for kind in kinds:
        store = QDRANT if kind == "external" else {"kind": kind}
        if kind == "external":
            after = run_program(stack, overrides={"vectorStore": store}, secret_keys=("vectorStore",))
        else:
            after = cached_run(stack, {"vectorStore": store})
        assert stateful_losses(before, after) == [], kind
        # Back to pgvector: only the vector store's own resources go (protected in production).
        gone = {name for typ, name, _ in stateful_losses(after, before)}
        assert all("-vectors" in name for name in gone), gone


@pytest.mark.parametrize("stack, kind", [("prod", "opensearch"), ("alicloud", "analyticdb"),
                                         ("alicloud", "tablestore")])
def test_the_managed_stores_pass_every_policy_gate_and_a_broken_one_is_reported(stack, kind):
    from tests.change_plan import cached_run
    from tests.test_policy import GATES, all_violations, mutated, violations

    import pulumi

    # The prod and alicloud stack files are production; the pack reads `size` as the CLI hands it over
    # (after the run, which resets the config).
    run = cached_run(stack, {"vectorStore": {"kind": kind}})
    pulumi.runtime.set_all_config({"dify-deploy:size": "production"}, [])
    try:
        assert all_violations(run) == {}
        store = next(r for r in run.resources if r.name == f"dify-{stack}-vectors-instance"
                     or r.typ == "aws:opensearch/domain:Domain")
        assert violations(GATES["deletion-protection"], store, protect=False) == [
            "the resource must be declared with protect in production"]
        if kind == "opensearch":
            plain = mutated(store, lambda i: i.update(encryptAtRest={"enabled": False},
                                                      domainEndpointOptions={"enforceHttps": False}))
            assert violations(GATES["encryption-at-rest"], plain) == ["encryptAtRest.enabled must be true"]
            assert violations(GATES["encryption-in-transit"], plain) == [
                "domainEndpointOptions.enforceHttps must be true"]
    finally:
        pulumi.runtime.set_all_config({}, [])
