"""The `alicloud` target under mocks: Pulumi.alicloud.yaml (the production shape) and a small dev
variant, run once each; assertions on the Alibaba Cloud resource graph and on every Kubernetes
object the cluster would receive."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

import pytest

from tests.captured import captured
from tests.test_kubernetes import (  # noqa: F401  (cached_schemas is a fixture)
    assert_secrets_only_in_secrets, assert_valid_objects, by_service, cached_schemas, containers, env_of, of_kind, pod,
)
from tools.mocks import Run, generated_passwords, is_secret, run_program
from tools.mocks import alicloud as mock

DEV = {
    "size": "dev",
    "domain": "dify.example.cn",
    "alicloud": {
        "region": "cn-hangzhou",
        "networkPlugin": "flannel",
        "podCidr": "172.20.0.0/16",
        "autoscaling": {"minSize": 2, "maxSize": 5},
        "acr": {"instanceId": "cri-abc123", "endpoint": "myacr-registry-vpc.cn-hangzhou.cr.aliyuncs.com"},
    },
    # Flannel enforces no NetworkPolicy: the stack has to say it accepts that.
    "kubernetes": {"networkPolicies": False},
}

T = {
    "vpc": "alicloud:vpc/network:Network",
    "vswitch": "alicloud:vpc/switch:Switch",
    "nat": "alicloud:vpc/natGateway:NatGateway",
    "snat": "alicloud:vpc/snatEntry:SnatEntry",
    "ack": "alicloud:cs/managedKubernetes:ManagedKubernetes",
    "pool": "alicloud:cs/nodePool:NodePool",
    "rds": "alicloud:rds/instance:Instance",
    "database": "alicloud:rds/database:Database",
    "account": "alicloud:rds/account:Account",
    "privilege": "alicloud:rds/accountPrivilege:AccountPrivilege",
    "redis": "alicloud:kvstore/instance:Instance",
    "bucket": "alicloud:oss/bucket:Bucket",
    "acl": "alicloud:oss/bucketAcl:BucketAcl",
    "block": "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "sse": "alicloud:oss/bucketServerSideEncryption:BucketServerSideEncryption",
    "versioning": "alicloud:oss/bucketVersioning:BucketVersioning",
    "ram_policy": "alicloud:ram/policy:Policy",
    "access_key": "alicloud:ram/accessKey:AccessKey",
    "acr": "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance",
    "namespace": "alicloud:cs/registryEnterpriseNamespace:RegistryEnterpriseNamespace",
    "subscription": "alicloud:cr/artifactSubscriptionRule:ArtifactSubscriptionRule",
    "linked_vpc": "alicloud:cr/vpcEndpointLinkedVpc:VpcEndpointLinkedVpc",
    "clb": "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer",
    "record": "alicloud:dns/alidnsRecord:AlidnsRecord",
}
ZONES = ["cn-hangzhou-j", "cn-hangzhou-k"]


@pytest.fixture(scope="module")
def prod() -> Run:
    return captured("alicloud")


@pytest.fixture(scope="module")
def dev() -> Run:
    return run_program("alicloud", overrides=DEV)


def one(run: Run, key: str):
    found = run.of_type(T[key])
    assert len(found) == 1, f"{key}: {[r.name for r in found]}"
    return found[0]


# -- the stack file and the outputs --------------------------------------------------------------

def test_the_stack_file_declares_every_component(prod):
    types = {r.typ for r in prod.resources}
    assert set(T.values()) <= types
    for component in ("Network", "AckCluster", "ManagedPostgres", "ManagedRedis", "OssStorage", "AcrRegistry",
                      "ClbEntry", "AlidnsName"):
        assert f"dify:alicloud:{component}" in types, component
    # Every Alibaba Cloud resource goes through the stack's provider, in the configured region.
    provider = one_provider = [r for r in prod.resources if r.typ == "pulumi:providers:alicloud"]
    assert len(one_provider) == 1 and provider[0].inputs["region"] == "cn-hangzhou"
    assert all(r.provider.startswith("urn:") and "alicloud" in r.provider
               for r in prod.resources if r.custom and r.typ.startswith("alicloud:"))


def test_outputs(prod):
    out = prod.outputs
    assert out["difyUrl"] == "https://dify.example.com"
    assert out["installUrl"] == "https://dify.example.com/install"
    assert out["loadBalancerAddress"] == out["entryAddress"] == mock.LB_ADDRESS
    assert out["clusterId"] and out["kubeconfig"].startswith("apiVersion: v1")
    assert out["postgresEndpoint"].endswith(".pg.rds.aliyuncs.com:5432")
    assert out["redisEndpoint"].endswith(".redis.rds.aliyuncs.com:6379")
    assert out["bucket"].startswith("dify-alicloud-files-")
    assert out["registry"]["endpoint"] == "dify-alicloud-registry-vpc.cn-hangzhou.cr.aliyuncs.com"
    assert out["registry"]["pluginNamespace"].endswith("/dify-plugins")
    assert out["zones"] == ZONES
    assert "hostsLine" not in out, "a managed DNS zone gets a record, not a hosts line"
    record = one(prod, "record").plain
    assert (record["domainName"], record["rr"], record["type"], record["value"]) == \
        ("example.com", "dify", "A", mock.LB_ADDRESS)


def test_without_a_dns_zone_the_hosts_line_is_exported(dev):
    out = dev.outputs
    assert out["hostsLine"] == f"{mock.LB_ADDRESS} dify.example.cn"
    assert out["difyUrl"] == "http://dify.example.cn" and out["installUrl"] == "http://dify.example.cn/install"
    assert not dev.of_type(T["record"])


def test_the_kubeconfig_is_secret(prod):
    provider = [r for r in prod.resources if r.typ == "pulumi:providers:kubernetes"]
    assert len(provider) == 1
    assert is_secret(provider[0].inputs["kubeconfig"])
    assert "apiVersion: v1" in provider[0].plain["kubeconfig"]
    # Workloads wait for nodes and for the image mirrors.
    depends = provider[0].depends_on
    assert "dify-alicloud-cluster-workers" in depends
    assert any("mirror-langgenius-dify-api" in d for d in depends)


# -- placement and sizing -------------------------------------------------------------------------

def test_two_zone_placement(prod):
    switches = prod.of_type(T["vswitch"])
    assert sorted(s.inputs["zoneId"] for s in switches) == sorted(ZONES * 2)  # nodes + Terway pods
    vpc = ipaddress.ip_network(one(prod, "vpc").inputs["cidrBlock"])
    blocks = [ipaddress.ip_network(s.inputs["cidrBlock"]) for s in switches]
    assert all(b.subnet_of(vpc) for b in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1:])
    node_switches = [s.name for s in switches if "nodes" in s.name]
    pool = one(prod, "pool").plain
    assert len(pool["vswitchIds"]) == 2 and pool["multiAzPolicy"] == "BALANCE"
    assert len(one(prod, "ack").plain["vswitchIds"]) == 2 and len(node_switches) == 2
    rds = one(prod, "rds").plain
    assert (rds["zoneId"], rds["zoneIdSlaveA"]) == tuple(ZONES)
    assert len(rds["vswitchId"].split(",")) == 2
    redis = one(prod, "redis").plain
    assert (redis["zoneId"], redis["secondaryZoneId"]) == tuple(ZONES)
    clb = one(prod, "clb").plain
    assert (clb["masterZoneId"], clb["slaveZoneId"]) == tuple(ZONES)
    assert one(prod, "bucket").plain["redundancyType"] == "ZRS"


def test_zones_default_to_the_regions_first_two(dev):
    zones = sorted({s.inputs["zoneId"] for s in dev.of_type(T["vswitch"])})
    assert zones == mock.ZONES[:2] == dev.outputs["zones"]


def test_production_sizing_and_high_availability(prod):
    ack = one(prod, "ack").plain
    assert ack["clusterSpec"] == "ack.pro.small" and ack["deletionProtection"] is True
    pool = one(prod, "pool").plain
    assert pool["instanceTypes"] == ["ecs.g7.2xlarge", "ecs.g8i.2xlarge"]  # 8 vCPU / 32 GiB
    assert pool["scalingConfig"] == {"enable": True, "minSize": 6, "maxSize": 12, "type": "cpu"}
    rds = one(prod, "rds").plain
    assert rds["engine"] == "PostgreSQL" and float(rds["engineVersion"]) >= 14
    assert rds["category"] == "HighAvailability"
    assert (rds["instanceType"], rds["instanceStorage"], rds["dbInstanceStorageType"]) == \
        ("pg.n2.large.2c", 500, "cloud_essd")
    assert rds["deletionProtection"] is True
    redis = one(prod, "redis").plain
    assert redis["instanceClass"] == "redis.shard.mid.ce"  # 2 GB, standard master-replica
    assert "shardCount" not in redis and redis["instanceType"] == "Redis"
    assert redis["instanceReleaseProtection"] is True
    assert redis["vpcAuthMode"] == "Open" and is_secret(redis_input(prod, "password"))


def redis_input(run: Run, key: str) -> Any:
    return one(run, "redis").inputs[key]


def test_dev_is_smaller_single_zone_data_and_autoscaled(dev):
    ack = one(dev, "ack").plain
    assert ack["clusterSpec"] == "ack.standard" and ack["deletionProtection"] is False
    pool = one(dev, "pool").plain
    assert pool["scalingConfig"] == {"enable": True, "minSize": 2, "maxSize": 5, "type": "cpu"}
    assert "desiredSize" not in pool
    assert one(dev, "rds").plain["category"] == "Basic" and "zoneIdSlaveA" not in one(dev, "rds").plain
    assert "secondaryZoneId" not in one(dev, "redis").plain


# -- network -------------------------------------------------------------------------------------

def test_terway_is_listed_explicitly(prod):
    ack = one(prod, "ack").plain
    names = {a["name"] for a in ack["addons"] if not a.get("disabled")}
    assert "terway-eniip" in names and "flannel" not in names
    terway = next(a for a in ack["addons"] if a["name"] == "terway-eniip")
    assert json.loads(terway["config"]) == {"NetworkPolicy": "true"}
    assert of_kind(prod, "NetworkPolicy")
    assert len(ack["podVswitchIds"]) == 2 and "podCidr" not in ack
    assert ack["serviceCidr"] == "172.16.0.0/16"
    assert ack["enableRrsa"] is True
    assert ack["newNatGateway"] is False


def test_flannel_uses_the_pod_cidr(dev):
    ack = one(dev, "ack").plain
    names = {a["name"] for a in ack["addons"] if not a.get("disabled")}
    assert "flannel" in names and "terway-eniip" not in names
    assert ack["podCidr"] == "172.20.0.0/16" and "podVswitchIds" not in ack
    # Flannel's pods leave nodes with the node's address, but the whitelist names the pod CIDR too.
    assert one(dev, "rds").plain["securityIps"] == ["192.168.0.0/16", "172.20.0.0/16"]


def test_nodes_reach_the_internet_through_nat(prod):
    nat = one(prod, "nat").plain
    assert nat["natType"] == "Enhanced"
    snat = prod.of_type(T["snat"])
    assert len(snat) == 4  # two node and two pod vSwitches
    assert all(s.plain["snatIp"] == mock.NAT_EIP for s in snat)


def test_whitelists_name_only_private_ranges(prod, dev):
    for run in (prod, dev):
        for key in ("rds", "redis"):
            ips = one(run, key).plain["securityIps"]
            assert ips and "0.0.0.0/0" not in ips and "0.0.0.0" not in ips
            assert all(ipaddress.ip_network(ip).is_private for ip in ips), ips
    assert one(prod, "rds").plain["securityIps"] == ["192.168.0.0/16"]


# -- object storage ------------------------------------------------------------------------------

def test_the_bucket_is_private_encrypted_and_versioned(prod, dev):
    for run in (prod, dev):
        bucket = one(run, "bucket").plain
        assert "acl" not in bucket and bucket.get("forceDestroy") is False
        assert one(run, "acl").plain["acl"] == "private"
        assert one(run, "block").plain["blockPublicAccess"] is True
        assert one(run, "sse").plain["sseAlgorithm"] in ("AES256", "KMS")
    assert one(prod, "versioning").plain["status"] == "Enabled"
    assert not dev.of_type(T["versioning"])


def test_dify_reaches_oss_with_a_key_scoped_to_the_bucket(prod):
    bucket = prod.outputs["bucket"]
    document = json.loads(one(prod, "ram_policy").plain["policyDocument"])
    resources = {r for s in document["Statement"] for r in s["Resource"]}
    assert resources == {f"acs:oss:*:*:{bucket}", f"acs:oss:*:*:{bucket}/*"}
    assert all("*" not in a.split(":")[1] for s in document["Statement"] for a in s["Action"])
    services = by_service(prod)
    api, daemon = env_of(services["api"]), env_of(services["plugin-daemon"])
    assert api["STORAGE_TYPE"]["value"] == "aliyun-oss"
    assert api["ALIYUN_OSS_BUCKET_NAME"]["value"] == bucket
    assert api["ALIYUN_OSS_ENDPOINT"]["value"] == "https://oss-cn-hangzhou-internal.aliyuncs.com"
    assert daemon["PLUGIN_STORAGE_TYPE"]["value"] == "aliyun_oss"
    assert daemon["PLUGIN_STORAGE_OSS_BUCKET"]["value"] == bucket
    for env, names in ((api, ("ALIYUN_OSS_ACCESS_KEY", "ALIYUN_OSS_SECRET_KEY")),
                       (daemon, ("ALIYUN_OSS_ACCESS_KEY_ID", "ALIYUN_OSS_ACCESS_KEY_SECRET"))):
        for name in names:
            assert "secretKeyRef" in env[name]["valueFrom"], name
    # Two RAM users, each with its own key and only the bucket's policy: the daemon's key is not the api's.
    users = {u.name: u.plain["name"] for u in prod.of_type("alicloud:ram/user:User")}
    assert set(users) == {"dify-alicloud-files-user", "dify-alicloud-files-plugin-user"}
    keys = {k.name: k.plain["userName"] for k in prod.of_type(T["access_key"])}
    assert sorted(keys.values()) == sorted(users.values())
    attached = {a.plain["userName"]: a.plain["policyName"]
                for a in prod.of_type("alicloud:ram/userPolicyAttachment:UserPolicyAttachment")}
    assert set(attached) == set(users.values()) and set(attached.values()) == {one(prod, "ram_policy").plain["policyName"]}
    from tools.mocks import manifests
    by_secret = {}
    for m in manifests(prod):
        if m["kind"] == "Secret":
            by_secret[m["metadata"]["name"]] = m.get("stringData", {})
    api_key = by_secret[api["ALIYUN_OSS_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"]]["ALIYUN_OSS_ACCESS_KEY"]
    daemon_key = by_secret[daemon["ALIYUN_OSS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"]][
        "ALIYUN_OSS_ACCESS_KEY_ID"]
    assert (api_key, daemon_key) == ("dify-alicloud-files-key-id", "dify-alicloud-files-plugin-key-id")


# -- PostgreSQL ----------------------------------------------------------------------------------

def test_databases_accounts_and_the_vector_job(prod):
    databases = {d.plain["dataBaseName"] for d in prod.of_type(T["database"])}
    assert databases == {"dify", "dify_plugin"}
    accounts = {a.plain["accountName"]: a for a in prod.of_type(T["account"])}
    assert accounts["dify"].plain["accountType"] == "Normal"
    assert accounts["dify_admin"].plain["accountType"] == "Super"
    assert all(is_secret(a.inputs["accountPassword"]) for a in accounts.values())
    privilege = one(prod, "privilege").plain
    assert privilege["privilege"] == "DBOwner" and set(privilege["dbNames"]) == databases

    jobs = {m["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]: m for m in of_kind(prod, "Job")}
    assert set(jobs) == {"db-init", "migrate", "plugin-migrate"}
    init = jobs["db-init"]
    script = " ".join(containers(init)[0]["args"])
    assert "CREATE EXTENSION IF NOT EXISTS vector" in script and "DIFY_PLUGIN_DB" in script
    env = env_of(init)
    assert env["DIFY_PLUGIN_DB"]["value"] == "dify_plugin" and env["PGUSER"]["value"] == "dify_admin"
    assert env["PGHOST"]["value"].endswith(".pg.rds.aliyuncs.com")
    assert "secretKeyRef" in env["PGPASSWORD"]["valueFrom"]
    declared = {r.name: r for r in prod.resources if r.typ == "kubernetes:batch/v1:Job"}
    job = declared["dify-alicloud-db-init"]
    assert {"dify-alicloud-postgres-db-dify", "dify-alicloud-postgres-db-dify-plugin",
            "dify-alicloud-postgres-admin", "dify-alicloud-postgres-app-owner"} <= job.depends_on
    assert "dify-alicloud-db-init" in declared["dify-alicloud-migrate"].depends_on
    # Dify's services use the application account, never the privileged one.
    api = env_of(by_service(prod)["api"])
    assert api["DB_USERNAME"]["value"] == api["PGVECTOR_USER"]["value"] == "dify"
    assert api["PGVECTOR_PORT"]["value"] == "5432" and api["VECTOR_STORE"]["value"] == "pgvector"


def test_redis_wiring(prod):
    api = env_of(by_service(prod)["api"])
    assert api["REDIS_HOST"]["value"].endswith(".redis.rds.aliyuncs.com")
    assert api["REDIS_PORT"]["value"] == "6379"
    assert "secretKeyRef" in api["CELERY_BROKER_URL"]["valueFrom"]


# -- registry ------------------------------------------------------------------------------------

def test_registry_namespaces_vpc_access_and_mirrors(prod):
    acr = one(prod, "acr").plain
    assert acr["paymentType"] == "Subscription"
    namespaces = {n.plain["name"]: n.plain for n in prod.of_type(T["namespace"])}
    assert namespaces["dify-plugins"]["defaultVisibility"] == "PRIVATE"
    assert one(prod, "linked_vpc").plain["moduleName"] == "Registry"
    endpoint = prod.outputs["registry"]["endpoint"]
    rules = {(r.plain["namespaceName"], r.plain["repoName"]): r.plain for r in prod.of_type(T["subscription"])}
    for image in prod.outputs["images"]:
        assert image.startswith(f"{endpoint}/"), f"{image} is not pulled from the ACR mirror"
        path, tag = image[len(endpoint) + 1:].rsplit(":", 1)
        namespace, repo = path.split("/")
        rule = rules[(namespace, repo)]
        assert rule["sourceProvider"] == "DOCKER_HUB"
        assert (rule["sourceNamespaceName"], rule["sourceRepoName"]) == (namespace, repo)
        # Exactly the pinned tag: nothing newer, nothing floating.
        assert re.search(rule["tagRegexp"], tag) and not re.search(rule["tagRegexp"], f"{tag}1")
        assert rule["tagCount"] == 1
        assert namespaces[namespace]["defaultVisibility"] == "PUBLIC"
    job_images = {containers(m)[0]["image"] for m in of_kind(prod, "Job")}
    assert all(i.startswith(f"{endpoint}/") for i in job_images)


def test_an_existing_registry_is_used_by_id(dev):
    assert not dev.of_type(T["acr"])
    assert {n.inputs["instanceId"] for n in dev.of_type(T["namespace"])} == {"cri-abc123"}
    assert dev.outputs["registry"]["endpoint"] == "myacr-registry-vpc.cn-hangzhou.cr.aliyuncs.com"
    assert all(i.startswith("myacr-registry-vpc.cn-hangzhou.cr.aliyuncs.com/") for i in dev.outputs["images"])


# -- entry ---------------------------------------------------------------------------------------

def test_the_nginx_service_reuses_the_clb_with_tls(prod):
    clb = one(prod, "clb")
    assert clb.plain["addressType"] == "internet" and clb.plain["deleteProtection"] == "on"
    services = [m for m in of_kind(prod, "Service") if m["spec"]["type"] == "LoadBalancer"]
    assert len(services) == 1
    annotations = services[0]["metadata"]["annotations"]
    prefix = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-"
    assert annotations[f"{prefix}id"] == f"{clb.name}-id"
    assert annotations[f"{prefix}force-override-listeners"] == "true"
    assert annotations[f"{prefix}cert-id"] == "1234567-cn-hangzhou"
    assert annotations[f"{prefix}protocol-port"] == "https:443,http:80"
    assert {p["port"] for p in services[0]["spec"]["ports"]} == {80, 443}


# -- protection ----------------------------------------------------------------------------------

STATEFUL = ("rds", "database", "redis", "bucket", "acr")


def test_stateful_resources_are_protected_in_production(prod, dev):
    for key in STATEFUL:
        for resource in prod.of_type(T[key]):
            assert resource.options["protect"] is True, resource.name
    assert one(prod, "acr").options["retainOnDelete"] is True  # prepaid: destroy cannot release it
    for key in STATEFUL:
        for resource in dev.of_type(T[key]):
            assert resource.options["protect"] is False, resource.name
    for key in ("ack", "pool", "vpc", "clb"):
        assert one(prod, key).options["protect"] is False, key


# -- secrets and manifests -----------------------------------------------------------------------

def test_secret_values_live_only_in_secrets(prod):
    secrets = generated_passwords(prod) + [mock.ACCESS_KEY_SECRET, "dify-alicloud-files-key-id",
                                           "dify-alicloud-files-plugin-key-id"]
    assert_secrets_only_in_secrets(prod, secrets, must_reach=secrets)


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_every_object_is_valid_for_the_pinned_kubernetes_version(variant, request, cached_schemas):
    run = request.getfixturevalue(variant)
    assert_valid_objects(run)


def test_production_workloads_spread_over_zones(prod):
    api = by_service(prod)["api"]
    keys = {c["topologyKey"] for c in pod(api)["topologySpreadConstraints"]}
    assert "topology.kubernetes.io/zone" in keys


# -- rejected config -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("alicloud", "top", "key", "hint"),
    [
        ({"zones": ["cn-hangzhou-j"]}, {}, "alicloud.zones", "exactly two"),
        ({"networkPlugin": "cilium"}, {}, "alicloud.networkPlugin", "terway"),
        ({"networkPlugin": "flannel"}, {}, "alicloud.networkPlugin", "kubernetes.networkPolicies false"),
        ({"podCidr": "172.20.0.0/16"}, {}, "alicloud.podCidr", "flannel"),
        ({"serviceCidr": "192.168.0.0/20"}, {}, "alicloud.serviceCidr", "overlaps"),
        ({"vpcId": "vpc-bp1abc"}, {}, "alicloud.vswitchIds", "two vSwitch IDs"),
        ({"vswitchIds": ["vsw-a1", "vsw-b2"]}, {}, "alicloud.vswitchIds", "alicloud.vpcId"),
        ({"nodeInstanceTypes": ["g7.large"]}, {}, "alicloud.nodeInstanceTypes", "ECS instance type"),
        ({"kvstore": {"instanceClass": "redis.sharding.mid.ce"}}, {}, "alicloud.kvstore.instanceClass", "Celery"),
        ({"rds": {"category": "Basic"}}, {}, "alicloud.rds.category", "HighAvailability"),
        ({"acr": {"instanceId": "cri-abc123"}}, {}, "alicloud.acr.endpoint", "required"),
        ({"autoscaling": {"minSize": 4, "maxSize": 3}}, {}, "alicloud.autoscaling.maxSize", "greater"),
        ({"dnsZone": "example.org"}, {}, "alicloud.dnsZone", "not inside"),
        ({"reigon": "cn-beijing"}, {}, "alicloud.reigon", "did you mean `alicloud.region`"),
        ({}, {"registry": {"mirror": "docker.m.daocloud.io"}}, "registry.mirror", "mirrorImages"),
        ({}, {"redis": {"mode": "self-hosted"}}, "redis.mode", "managed"),
    ],
)
def test_wrong_alicloud_config_is_rejected_naming_the_key(alicloud, top, key, hint):
    from tools.mocks import stack_config, PROJECT

    base = dict(stack_config("alicloud")[0][f"{PROJECT}:alicloud"])
    with pytest.raises(Exception) as raised:
        run_program("alicloud", overrides={"alicloud": {**base, **alicloud}, **top})
    message = str(raised.value)
    assert key in message, message
    assert hint in message, message


def test_the_production_node_pool_autoscales_from_its_node_count():
    run = run_program("alicloud", overrides={"size": "production"})
    pool = run.of_type("alicloud:cs/nodePool:NodePool")[0].plain
    assert pool["scalingConfig"] == {"enable": True, "minSize": 6, "maxSize": 12, "type": "cpu"}
    assert "desiredSize" not in pool
    small = run_program("alicloud", overrides={"size": "small"}).of_type("alicloud:cs/nodePool:NodePool")[0].plain
    assert "scalingConfig" not in small and small["desiredSize"] == "3"
