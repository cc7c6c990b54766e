"""`selfHosted.highAvailability` on the cloud targets, under mocks: replicated engines in the EKS and ACK
clusters for the services set to self-hosted, beside the managed ones for the others.

One aws run and one alicloud run with every data service self-hosted and replicated (production), and
one aws run mixing RDS and S3 with a replicated Redis: the engines on the cluster's provider, the zones
from the VPC, the storage classes (EBS CSI on EKS, a zone-following ESSD class on ACK), the API server's
range in the NetworkPolicies, no managed resource for a self-hosted service, schedulable spreads over
the zones, the restore point, the change plan, the switch guard and the refusals."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import yaml

from components.dify.releases import LTS_VERSION
from tests.change_plan import cached_run, stateful_losses
from tests.reachability import Address, Cluster
from tests.test_ha_data import _pods, cr, seaweedfs_values
from tests.test_kubernetes import K8S_VERSION, cached_schemas, env_of, named, of_kind  # noqa: F401  (fixture)
from tools.mocks import Run, aws as aws_mock, manifests, run_program

SELF_HOSTED = {"postgres": {"mode": "self-hosted", "maxConnections": 1200}, "redis": {"mode": "self-hosted"},
               "objectStorage": {"mode": "self-hosted"}, "selfHosted": {"highAvailability": True}}
MIXED = {"redis": {"mode": "self-hosted"}, "selfHosted": {"highAvailability": True}}
ALICLOUD_ZONES = ["cn-hangzhou-j", "cn-hangzhou-k"]
CNPG, OPSTREE = "kubernetes:postgresql.cnpg.io/v1", "kubernetes:redis.redis.opstreelabs.in/v1beta2"
MANAGED = {
    "aws": ("aws:rds/instance:Instance", "aws:elasticache/replicationGroup:ReplicationGroup", "aws:s3/bucket:Bucket"),
    "alicloud": ("alicloud:rds/instance:Instance", "alicloud:kvstore/instance:Instance", "alicloud:oss/bucket:Bucket"),
}


def on_aws() -> Run:
    return cached_run("prod", SELF_HOSTED)


def on_alicloud() -> Run:
    # With the Prometheus Operator's objects, for the exporters.
    return cached_run("alicloud", {**SELF_HOSTED, "monitoring": {"prometheusOperator": True}})


def mixed() -> Run:
    return cached_run("prod", MIXED)


def _rejected(stack: str, overrides: dict) -> str:
    with pytest.raises(Exception) as raised:
        run_program(stack, overrides=overrides)
    return str(raised.value)


def engines(run: Run):
    return [r for r in run.resources if r.typ.startswith((CNPG, OPSTREE))
            or (r.typ == "kubernetes:helm.sh/v3:Release" and r.plain["chart"] == "seaweedfs")]


# -- where the engines run -----------------------------------------------------------------------

@pytest.mark.parametrize("run", [on_aws, on_alicloud], ids=["aws", "alicloud"])
def test_the_engines_run_in_the_clusters_namespace_on_its_provider_and_no_managed_service_is_made(run):
    run = run()
    api = next(r for r in run.of_type("kubernetes:apps/v1:Deployment") if r.name.endswith("-api"))
    found = engines(run)
    assert {r.typ.rsplit(":", 1)[-1] for r in found} >= {"Cluster", "Pooler", "RedisReplication", "RedisSentinel",
                                                          "Release"}
    for engine in found:
        assert engine.provider == api.provider, engine.name
        assert "-k8s-app" in engine.provider, "the provider that waits for the storage class"
    cloud = "aws" if any(r.typ.startswith("aws:") for r in run.resources) else "alicloud"
    for managed in MANAGED[cloud]:
        assert not run.of_type(managed), managed
    assert run.outputs["selfHostedData"] == {"postgres": "ha", "redis": "ha", "object-store": "ha"}
    assert run.outputs["postgresEndpoint"] == run.outputs["internalEndpoints"]["postgres"]
    assert run.outputs["redisEndpoint"] == run.outputs["internalEndpoints"]["redis"]


def test_managed_rds_and_s3_beside_a_replicated_redis():
    run = mixed()
    assert run.of_type("aws:rds/instance:Instance") and run.of_type("aws:s3/bucket:Bucket")
    assert not run.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert not run.of_type(f"{CNPG}:Cluster") and run.of_type(f"{OPSTREE}:RedisReplication")
    assert run.outputs["selfHostedData"] == {"redis": "ha"}
    api = env_of(named(run, "Deployment", "api"))
    assert api["DB_HOST"]["value"] == run.outputs["postgresEndpoint"].rsplit(":", 1)[0]
    assert api["REDIS_USE_SENTINEL"]["value"] == "true"
    # Only the managed services are reached in the VPC; the replicated Redis inside the namespace.
    cluster, pods = Cluster(manifests(run)), _dify_pods(run)
    assert cluster.allows(pods["api"], Address("10.0.3.7"), 5432)
    assert not cluster.allows(pods["api"], Address("10.0.3.7"), 6379)


def _dify_pods(run):
    from tests.reachability import Pod
    from tests.test_kubernetes import by_service
    return {name: Pod("dify", m["spec"]["template"]["metadata"]["labels"], f"10.0.200.{i + 10}")
            for i, (name, m) in enumerate(sorted(by_service(run).items()))}


# -- volumes -------------------------------------------------------------------------------------

def test_eks_gets_the_ebs_csi_driver_with_its_own_role_and_an_encrypted_gp3_class():
    run = on_aws()
    addon = next(r for r in run.of_type("aws:eks/addon:Addon") if r.plain["addonName"] == "aws-ebs-csi-driver")
    role = run.named("aws:iam/role:Role", "dify-prod-volumes-csi")
    trust = json.loads(role.plain["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:kube-system:ebs-csi-controller-sa" in trust.values()
    attachment = run.named("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "dify-prod-volumes-csi")
    assert attachment.plain["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    assert addon.plain["serviceAccountRoleArn"] and attachment.urn in addon.dependency_urns
    storage_class = named(run, "StorageClass", "dify-gp3")
    assert storage_class["provisioner"] == "ebs.csi.aws.com"
    assert storage_class["parameters"]["type"] == "gp3" and storage_class["parameters"]["encrypted"] == "true"
    assert storage_class["volumeBindingMode"] == "WaitForFirstConsumer" and storage_class["allowVolumeExpansion"]
    assert storage_class["reclaimPolicy"] == "Retain", "production keeps a volume whose claim is deleted"
    assert cr(run, "Cluster")["spec"]["storage"] == {"size": "50Gi", "storageClass": "dify-gp3"}
    assert seaweedfs_values(run)["master"]["data"]["storageClass"] == "dify-gp3"


def test_ack_gets_a_zone_following_essd_class_and_claims_of_at_least_its_smallest_disk():
    run = on_alicloud()
    storage_class = named(run, "StorageClass", "dify-essd")
    assert storage_class["provisioner"] == "diskplugin.csi.alibabacloud.com"
    assert storage_class["parameters"]["type"] == "cloud_essd" and storage_class["parameters"]["encrypted"] == "true"
    assert storage_class["volumeBindingMode"] == "WaitForFirstConsumer"
    assert cr(run, "Cluster")["spec"]["storage"] == {"size": "50Gi", "storageClass": "dify-essd"}
    replication = next(m for m in manifests(run) if m["kind"] == "RedisReplication")
    claim = replication["spec"]["storage"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "dify-essd" and claim["resources"]["requests"]["storage"] == "20Gi"
    values = seaweedfs_values(run)
    assert values["master"]["data"]["size"] == "20Gi" and values["filer"]["data"]["size"] == "20Gi"
    assert seaweedfs_values(on_aws())["master"]["data"]["size"] == "1Gi", "EBS takes small volumes"


BUILT_IN = ("v1", "apps/", "batch/", "policy/", "autoscaling/")


@pytest.mark.parametrize("run", [on_aws, on_alicloud], ids=["aws", "alicloud"])
def test_the_built_in_objects_are_valid_for_the_pinned_kubernetes_version(run, cached_schemas):
    import kubernetes_validate

    checked = [m for m in manifests(run()) if m["apiVersion"].startswith(BUILT_IN)
               or m["apiVersion"].split("/")[0].endswith(".k8s.io")]
    assert any(m["kind"] == "StorageClass" for m in checked)
    for manifest in checked:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


def test_the_storage_class_exists_before_dify_and_its_data_services():
    for run, name in ((on_aws(), "dify-prod-volumes-gp3"), (on_alicloud(), "dify-alicloud-volumes-essd")):
        storage_class = run.named("kubernetes:storage.k8s.io/v1:StorageClass", name)
        provider = next(r for r in run.of_type("pulumi:providers:kubernetes") if r.name.endswith("-k8s-app"))
        assert storage_class.urn in provider.dependency_urns


# -- zones and the API server ----------------------------------------------------------------------

def test_the_volume_servers_are_grouped_by_the_vpcs_zones_without_a_key():
    assert "objectStoreZones" not in json.dumps(SELF_HOSTED)
    for run, zones in ((on_aws(), aws_mock.ZONES[:3]), (on_alicloud(), ALICLOUD_ZONES)):
        groups = seaweedfs_values(run)["volumes"]
        assert sorted(yaml.safe_load(g["nodeSelector"])["topology.kubernetes.io/zone"] for g in groups.values()) \
            == sorted(zones)
        assert sum(g["replicas"] for g in groups.values()) == 3
        assert seaweedfs_values(run)["global"]["seaweedfs"]["replicationPlacement"] == "010"


@pytest.mark.parametrize(("run", "inside", "outside"), [
    (on_aws, "10.0.0.20", "172.20.0.1"), (on_alicloud, "192.168.0.20", "10.0.0.1")], ids=["aws", "alicloud"])
def test_the_postgres_pods_reach_the_api_server_in_the_vpc_only(run, inside, outside):
    cluster, pods = _pods(run())
    for name in ("instance", "pooler"):
        assert cluster.allows(pods[name], Address(inside), 443) and cluster.allows(pods[name], Address(inside), 6443)
        assert not cluster.allows(pods[name], Address(outside), 443)
        assert not cluster.allows(pods[name], Address("100.100.100.200"), 80)


# -- spreading 3 replicas over the zones -----------------------------------------------------------

def _place(replicas: int, nodes: dict[str, str], max_skew: int) -> Counter:
    """Kubernetes' scheduler for one workload with a zone spread (DoNotSchedule) and required anti-affinity
    on the host: each pod goes to a free node whose zone keeps the skew within max_skew."""
    used: set[str] = set()
    per_zone: Counter = Counter({zone: 0 for zone in nodes.values()})
    for _ in range(int(replicas)):
        free = [n for n in sorted(nodes) if n not in used]
        fits = [n for n in free if per_zone[nodes[n]] + 1 - min(per_zone.values()) <= max_skew]
        assert fits, f"replica {sum(per_zone.values()) + 1} of {replicas} is unschedulable on {nodes}"
        chosen = min(fits, key=lambda n: per_zone[nodes[n]])
        used.add(chosen)
        per_zone[nodes[chosen]] += 1
    return per_zone


def _hard_spread(constraints: list[dict]) -> int:
    zone = next(c for c in constraints if c["topologyKey"] == "topology.kubernetes.io/zone")
    assert zone["whenUnsatisfiable"] == "DoNotSchedule"
    return zone["maxSkew"]


def test_three_replicas_with_a_hard_spread_fit_the_two_ack_zones():
    run = on_alicloud()
    cluster = cr(run, "Cluster")["spec"]
    replication = next(m for m in manifests(run) if m["kind"] == "RedisReplication")["spec"]
    sentinel = next(m for m in manifests(run) if m["kind"] == "RedisSentinel")["spec"]
    master = seaweedfs_values(run)["master"]
    workloads = {
        "postgres": (cluster["instances"], _hard_spread(cluster["topologySpreadConstraints"])),
        "redis": (replication["clusterSize"], _hard_spread(replication["topologySpreadConstraints"])),
        "sentinel": (sentinel["clusterSize"], _hard_spread(sentinel["topologySpreadConstraints"])),
        "master": (master["replicas"], _hard_spread(yaml.safe_load(master["topologySpreadConstraints"]))),
    }
    assert cluster["affinity"]["podAntiAffinityType"] == "required"
    # Production's node pool (6, balanced over both zones) and the least it may shrink to with 3 replicas.
    for nodes in ({f"node-{i}": ALICLOUD_ZONES[i % 2] for i in range(6)},
                  {"node-0": ALICLOUD_ZONES[0], "node-1": ALICLOUD_ZONES[1], "node-2": ALICLOUD_ZONES[0]}):
        for name, (replicas, skew) in workloads.items():
            placed = _place(replicas, nodes, skew)
            assert sorted(placed.values()) == [1, 2], (name, placed)


def test_the_node_pool_must_hold_each_replica_on_a_node_of_its_own():
    message = _rejected("alicloud", {**SELF_HOSTED, "alicloud": {"nodeCount": 2}})
    assert "alicloud.nodeCount" in message and "3" in message
    assert "aws.nodeMinSize" in _rejected("prod", {**SELF_HOSTED, "aws": {"nodeMinSize": 2}})


# -- restore points, change plan, switch guard -----------------------------------------------------

def test_the_restore_point_dumps_the_replicated_postgres_into_the_replicated_store():
    for run in (on_aws(), on_alicloud()):
        job = next(m for m in of_kind(run, "Job") if "-restore-point-" in m["metadata"]["name"])
        containers = job["spec"]["template"]["spec"]
        dump = next(c for c in containers["initContainers"] if c["name"] == "restore-point-dump")
        env = {e["name"]: e.get("value") for e in dump["env"]}
        assert env["PGHOST"] == run.outputs["postgresEndpoint"].rsplit(":", 1)[0]
        upload = {e["name"]: e.get("value") for e in containers["containers"][0]["env"]}
        assert "object-store" in upload["AWS_ENDPOINT_URL"]
        assert not run.of_type("aws:rds/snapshot:Snapshot") and not run.of_type("alicloud:rds/rdsBackup:RdsBackup")


def test_the_exporters_watch_the_pooler_and_the_master_that_dify_uses():
    run = on_alicloud()
    exporters = {m["metadata"]["name"]: {e["name"]: e.get("value") for e in
                                         m["spec"]["template"]["spec"]["containers"][0].get("env", [])}
                 for m in of_kind(run, "Deployment") if m["metadata"]["name"].endswith("-exporter")}
    host = run.outputs["postgresEndpoint"]
    assert exporters["postgres-exporter"]["DATA_SOURCE_URI"] == f"{host}/dify?sslmode=require"
    assert exporters["redis-exporter"]["REDIS_ADDR"] == "redis://redis-master:6379"


def test_upgrades_lose_nothing_and_the_switch_is_guarded_on_a_cloud():
    old = cached_run("prod", {**SELF_HOSTED, "dify": {"version": LTS_VERSION}})
    assert stateful_losses(old, on_aws()) == []
    previous = {"selfHostedData": {"postgres": "single", "redis": "single", "object-store": "single"}}
    run = Run()
    with pytest.raises(Exception, match="confirmDataModeSwitch single-to-ha"):
        run_program("alicloud", overrides=SELF_HOSTED, previous_outputs=previous, run=run)
    assert run.stack_reads and not [r for r in run.resources if r.custom]


# -- config --------------------------------------------------------------------------------------

def test_production_with_replicated_engines_needs_no_allowance_but_single_pods_do():
    assert "allowSelfHostedDataInProduction" not in json.dumps(SELF_HOSTED)
    message = _rejected("prod", {"redis": {"mode": "self-hosted"}})
    assert "redis.mode" in message and "selfHosted.highAvailability" in message


@pytest.mark.parametrize(("stack", "overrides", "key"), [
    ("prod", {"selfHosted": {"highAvailability": True}}, "selfHosted.highAvailability"),
    ("prod", {"postgres": {"mode": "self-hosted", "maxConnections": 1200}, "selfHosted": {"highAvailability": True}},
     "selfHosted.backups"),
    ("alicloud", {"postgres": {"mode": "self-hosted", "maxConnections": 1200},
                  "selfHosted": {"highAvailability": True, "backups": False}}, "restorePoints.enabled"),
    ("prod", {**SELF_HOSTED, "size": "production", "aws": {
        "region": "eu-central-1", "vpcId": "vpc-0a1b2c3d4e5f60718",
        "privateSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
        "publicSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"]}}, "selfHosted.objectStoreZones"),
])
def test_wrong_cloud_ha_config_is_rejected_naming_the_key(stack, overrides, key):
    assert key in _rejected(stack, overrides)


def test_a_cloud_targets_data_services_are_managed_unless_a_mode_says_otherwise():
    from stacks.config import StackConfig

    plain = StackConfig.model_validate({"target": "aws", "region": "us-east-1"})
    assert (plain.postgres.mode, plain.redis.mode, plain.object_storage.mode) == ("managed",) * 3
    mixed = StackConfig.model_validate({"target": "alicloud", "region": "cn-hangzhou", "redis": {"mode": "self-hosted"},
                                        "postgres": {"database": "dify"}})
    assert (mixed.postgres.mode, mixed.redis.mode, mixed.object_storage.mode) == ("managed", "self-hosted", "managed")
    assert StackConfig.model_validate({"target": "kubernetes"}).postgres.mode == "self-hosted"
