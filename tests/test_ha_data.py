"""`selfHosted.highAvailability` on target kubernetes: PostgreSQL as a CloudNativePG cluster under mocks.

The operator's charts, the Cluster (3 instances over zones, synchronous, pgvector image), the Databases,
the PgBouncer Pooler sized by the connection budget, backups through the Barman Cloud plugin, Dify's
connection to the pooler, the secrets, the NetworkPolicies (read with the evaluator), the config rules,
the change plan and the guard against switching data modes unawares."""

from __future__ import annotations

import json

import pytest
import yaml

from components import postgres_ha
from stacks import budget, data_mode
from stacks.config import StackConfig
from tests.change_plan import cached_run, stateful_losses
from tests.reachability import Address, Cluster, Pod, _selects
from tests.test_kubernetes import (
    assert_secrets_only_in_secrets, by_service, env_of, named, of_kind,
)
from tools.mocks import generated_passwords, is_secret, manifests, run_program
from tools.mocks.program import generated_password
from tools.mocks.wire import reveal
from tools.mocks.program import Run

HA = {"selfHosted": {"highAvailability": True}}
ZONES = ["zone-a", "zone-b", "zone-c"]
PRODUCTION_HA = {"size": "production", "selfHosted": {"highAvailability": True, "objectStoreZones": ZONES},
                 "kubernetes": {"namespace": "dify"},
                 "postgres": {"maxConnections": 1200}}
CNPG = "kubernetes:postgresql.cnpg.io/v1"
OPSTREE = "kubernetes:redis.redis.opstreelabs.in/v1beta2"


def ha(overrides: dict | None = None):
    return cached_run("k8s", {**HA, **(overrides or {})})


def cr(run, kind: str) -> dict:
    found = [m for m in manifests(run) if m["kind"] == kind and m["apiVersion"].endswith("cnpg.io/v1")]
    assert len(found) == 1, [m["metadata"]["name"] for m in found]
    return found[0]


def crs(run, kind: str) -> list[dict]:
    return [m for m in manifests(run) if m["kind"] == kind and m["apiVersion"].endswith("cnpg.io/v1")]


# -- the operator --------------------------------------------------------------------------------

def test_the_operator_and_the_backup_plugin_come_from_their_pinned_charts():
    releases = {r.plain["chart"]: r for r in ha().of_type("kubernetes:helm.sh/v3:Release")
                if r.plain["chart"] not in ("redis-operator", "seaweedfs")}
    assert set(releases) == {"cloudnative-pg", "plugin-barman-cloud"}
    cnpg, plugin = releases["cloudnative-pg"].plain, releases["plugin-barman-cloud"].plain
    assert (cnpg["version"], plugin["version"]) == ("0.29.0", "0.7.0")
    for release in (cnpg, plugin):
        assert release["repositoryOpts"]["repo"] == "https://cloudnative-pg.github.io/charts"
        assert release["namespace"] == "cnpg-system"
    assert releases["cloudnative-pg"].urn in releases["plugin-barman-cloud"].dependency_urns
    for release in releases.values():
        assert release.options["retainOnDelete"] is True
    cluster = ha().named(f"{CNPG}:Cluster", "dify-k8s-postgres-cluster")
    assert {r.urn for r in releases.values()} <= cluster.dependency_urns


def test_an_operator_the_cluster_runs_is_used_as_it_is():
    run = ha({"selfHosted": {"highAvailability": True, "installOperators": False, "operatorNamespace": "databases"}})
    assert [r.plain["chart"] for r in run.of_type("kubernetes:helm.sh/v3:Release")] == ["seaweedfs"]
    ingress = named(run, "NetworkPolicy", "dify-postgres-instances-ingress")
    assert {"kubernetes.io/metadata.name": "databases"} in [
        p.get("namespaceSelector", {}).get("matchLabels") for rule in ingress["spec"]["ingress"] for p in rule["from"]]


# -- the cluster ---------------------------------------------------------------------------------

def test_three_instances_spread_over_zones_and_nodes_with_a_synchronous_standby():
    spec = cr(ha(), "Cluster")["spec"]
    assert spec["instances"] == 3
    assert spec["imageName"].startswith("ghcr.io/cloudnative-pg/postgresql:17.") and "-standard-" in spec["imageName"]
    assert spec["postgresql"]["synchronous"] == {"method": "any", "number": 1, "dataDurability": "required"}
    assert spec["enablePDB"] is True, "the operator makes the primary's and the replicas' PodDisruptionBudgets"
    zones = spec["topologySpreadConstraints"][0]
    assert zones["topologyKey"] == "topology.kubernetes.io/zone"
    assert zones["labelSelector"]["matchLabels"] == {"cnpg.io/cluster": "postgres-cluster", "cnpg.io/podRole": "instance"}
    assert spec["affinity"]["topologyKey"] == "kubernetes.io/hostname" and spec["affinity"]["enablePodAntiAffinity"]
    assert spec["postgresql"]["parameters"]["max_connections"] == "300"


def test_production_requires_zones_and_separate_nodes():
    spec = cr(cached_run("k8s", PRODUCTION_HA), "Cluster")["spec"]
    assert spec["topologySpreadConstraints"][0]["whenUnsatisfiable"] == "DoNotSchedule"
    assert spec["affinity"]["podAntiAffinityType"] == "required"
    assert spec["postgresql"]["parameters"]["max_connections"] == "1200"
    dev = cr(ha(), "Cluster")["spec"]
    assert dev["topologySpreadConstraints"][0]["whenUnsatisfiable"] == "ScheduleAnyway"


def test_asynchronous_replication_when_asked():
    spec = cr(ha({"selfHosted": {"highAvailability": True, "synchronousReplicas": 0, "postgresInstances": 5}}),
              "Cluster")["spec"]
    assert "synchronous" not in spec["postgresql"] and spec["instances"] == 5


def test_both_databases_and_the_vector_extension_are_bootstrapped():
    cluster = cr(ha(), "Cluster")["spec"]["bootstrap"]["initdb"]
    assert (cluster["database"], cluster["owner"]) == ("dify", "dify")
    assert cluster["secret"]["name"] == "postgres-app-credentials"
    assert "CREATE EXTENSION IF NOT EXISTS vector" in cluster["postInitApplicationSQL"]
    databases = {m["spec"]["name"]: m["spec"] for m in crs(ha(), "Database")}
    assert set(databases) == {"dify", "dify_plugin"}
    assert databases["dify"]["extensions"] == [{"name": "vector", "ensure": "present"}]
    assert all(d["cluster"] == {"name": "postgres-cluster"} and d["owner"] == "dify" for d in databases.values())
    assert all(d["databaseReclaimPolicy"] == "retain" for d in databases.values())


def test_the_cluster_is_protected_in_production_and_kept_on_destroy():
    production = cached_run("k8s", PRODUCTION_HA).named(f"{CNPG}:Cluster", "dify-k8s-postgres-cluster")
    dev = ha().named(f"{CNPG}:Cluster", "dify-k8s-postgres-cluster")
    assert production.options["protect"] is True and dev.options["protect"] is False
    assert dev.options["retainOnDelete"] is True
    assert "spec.bootstrap" in dev.options["ignoreChanges"]


def test_no_single_pod_data_service_runs_beside_them():
    assert not of_kind(ha(), "StatefulSet")


# -- the pooler and Dify's connection --------------------------------------------------------------

def test_the_pooler_is_sized_by_the_connection_budget():
    run = cached_run("k8s", PRODUCTION_HA)
    pooler = cr(run, "Pooler")["spec"]
    assert (pooler["type"], pooler["instances"], pooler["cluster"]) == ("rw", 2, {"name": "postgres-cluster"})
    config = StackConfig.model_validate({"target": "kubernetes", **PRODUCTION_HA})
    needed = budget.budget(config)
    parameters = pooler["pgbouncer"]["parameters"]
    assert int(parameters["max_client_conn"]) >= needed.total
    # Every pooler pod together never opens more than the server allows Dify.
    assert 2 * int(parameters["max_user_connections"]) <= needed.usable
    assert int(parameters["default_pool_size"]) == int(parameters["max_user_connections"])
    assert pooler["pgbouncer"]["poolMode"] == "session"
    pdb = named(run, "PodDisruptionBudget", "postgres")
    assert pdb["spec"]["selector"]["matchLabels"] == {"cnpg.io/poolerName": "postgres", "cnpg.io/podRole": "pooler"}


def test_dify_connects_to_the_pooler_with_tls_and_the_password_by_reference():
    run = ha()
    api, daemon = by_service(run)["api"], by_service(run)["plugin-daemon"]
    env = env_of(api)
    assert env["DB_HOST"]["value"] == "postgres" and env["DB_PORT"]["value"] == "5432"
    assert "sslmode=require" in env["DB_EXTRAS"]["value"]
    assert env_of(daemon)["DB_SSL_MODE"]["value"] == "require"
    assert "secretKeyRef" in env["DB_PASSWORD"]["valueFrom"]
    password = next(p for p in generated_passwords(run) if p.startswith("difyk8spostgrespassword"))
    credentials = run.named("kubernetes:core/v1:Secret", "dify-k8s-postgres-credentials")
    assert credentials.inputs["type"] == "kubernetes.io/basic-auth" and is_secret(credentials.inputs["stringData"])
    assert credentials.plain["stringData"] == {"username": "dify", "password": password}
    api_secret = next(m for m in of_kind(run, "Secret")
                      if m["metadata"]["name"] == env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"])
    assert api_secret["stringData"]["DB_PASSWORD"] == password


def test_secret_values_live_only_in_secrets():
    run = ha()
    assert_secrets_only_in_secrets(run, generated_passwords(run), must_reach=generated_passwords(run))


# -- backups ------------------------------------------------------------------------------------

def test_wal_and_base_backups_go_to_the_object_store_through_the_plugin():
    run = ha()
    store = next(m for m in manifests(run) if m["kind"] == "ObjectStore")
    assert store["apiVersion"] == "barmancloud.cnpg.io/v1" and store["spec"]["retentionPolicy"] == "30d"
    configuration = store["spec"]["configuration"]
    assert configuration["destinationPath"] == "s3://dify/postgres"
    assert configuration["endpointURL"] == "http://object-store-s3:8333"
    keys = configuration["s3Credentials"]
    secret = next(m for m in of_kind(run, "Secret") if m["metadata"]["name"] == keys["accessKeyId"]["name"])
    assert set(secret["stringData"]) == {"ACCESS_KEY_ID", "ACCESS_SECRET_KEY", "REGION"}
    assert secret["stringData"]["ACCESS_KEY_ID"] in generated_passwords(run)
    plugins = cr(run, "Cluster")["spec"]["plugins"]
    assert plugins == [{"name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": True,
                        "parameters": {"barmanObjectName": "postgres-backups"}}]
    schedule = cr(run, "ScheduledBackup")["spec"]
    assert schedule["method"] == "plugin" and schedule["pluginConfiguration"] == {"name": "barman-cloud.cloudnative-pg.io"}
    assert len(schedule["schedule"].split()) == 6, "the operator's cron has a seconds field"


def test_backups_can_be_left_off():
    run = ha({"selfHosted": {"highAvailability": True, "backups": False}})
    assert "plugins" not in cr(run, "Cluster")["spec"]
    assert not crs(run, "ScheduledBackup")
    assert {r.plain["chart"] for r in run.of_type("kubernetes:helm.sh/v3:Release")} == {
        "cloudnative-pg", "redis-operator", "seaweedfs"}


# -- isolation ----------------------------------------------------------------------------------

def _pods(run):
    objects = manifests(run)
    pooler = cr(run, "Pooler")
    pods = {name: Pod("dify", {**m["spec"]["template"]["metadata"]["labels"]}, f"10.244.0.{i + 10}")
            for i, (name, m) in enumerate(sorted(by_service(run).items()))}
    pods["pooler"] = Pod("dify", {**pooler["spec"]["template"]["metadata"]["labels"],
                                  "cnpg.io/poolerName": "postgres", "cnpg.io/podRole": "pooler"}, "10.244.1.2")
    cluster_labels = cr(run, "Cluster")["spec"]["inheritedMetadata"]["labels"]
    pods["instance"] = Pod("dify", {**cluster_labels, "cnpg.io/cluster": "postgres-cluster",
                                    "cnpg.io/podRole": "instance", "cnpg.io/instanceRole": "primary"}, "10.244.1.3")
    pods["replica"] = Pod("dify", {**cluster_labels, "cnpg.io/cluster": "postgres-cluster",
                                   "cnpg.io/podRole": "instance", "cnpg.io/instanceRole": "replica"}, "10.244.1.4")
    pods["operator"] = Pod("cnpg-system", {"app.kubernetes.io/name": "cloudnative-pg"}, "10.244.2.2")
    pods["stranger"] = Pod("cnpg-system", {"app.kubernetes.io/name": "other"}, "10.244.2.3")
    pods.update(seaweedfs_pods(run))
    return Cluster(objects), pods


def seaweedfs_values(run) -> dict:
    releases = [r for r in run.of_type("kubernetes:helm.sh/v3:Release") if r.plain["chart"] == "seaweedfs"]
    return releases[0].plain["values"] if releases else {}


def seaweedfs_pods(run) -> dict[str, Pod]:
    """The pods the chart renders (its labels, and the values' extra pod labels), the S3 gateway as `object-store`."""
    values = seaweedfs_values(run)
    if not values:
        return {}
    base = {"app.kubernetes.io/name": "seaweedfs", "app.kubernetes.io/instance": "object-store"}
    parts = {"object-store": "s3", "master": "master", "filer": "filer", "bucket-hook": "bucket-hook",
             **{f"volume-{g}": f"volume-{g}" for g in values.get("volumes", {})}}
    if values["volume"].get("enabled", True):
        parts["volume"] = "volume"
    return {name: Pod("dify", {**base, "app.kubernetes.io/component": part,
                               **values.get(part, {}).get("podLabels", {})}, f"10.244.3.{i + 2}")
            for i, (name, part) in enumerate(parts.items())}


def test_dify_reaches_the_pooler_and_only_the_pooler_reaches_the_instances():
    cluster, pods = _pods(ha())
    users = {"api", "worker", "beat", "plugin-daemon", "api-websocket", "migrate", "plugin-migrate", "restore-point"}
    for name in pods:
        if name in ("pooler", "instance", "replica", "operator", "stranger"):
            continue
        assert cluster.allows(pods[name], pods["pooler"], 5432) == (name in users), name
        assert not cluster.allows(pods[name], pods["instance"], 5432), name
        assert not cluster.allows(pods[name], pods["instance"], 8000), name
    assert cluster.allows(pods["pooler"], pods["instance"], 5432)
    assert not cluster.allows(pods["pooler"], pods["instance"], 8000)
    assert not cluster.allows(pods["pooler"], pods["api"], 5001)


def test_the_instances_reach_each_other_and_the_operator_reaches_them():
    cluster, pods = _pods(ha())
    for port in (5432, 8000):
        assert cluster.allows(pods["replica"], pods["instance"], port)
        assert cluster.allows(pods["instance"], pods["replica"], port)
        assert cluster.allows(pods["operator"], pods["instance"], port)
        assert not cluster.allows(pods["stranger"], pods["instance"], port)
    assert not cluster.allows(pods["instance"], pods["replica"], 22)
    assert not cluster.allows(pods["instance"], pods["api"], 5001)


def test_instances_and_poolers_reach_the_api_server_the_object_store_only_for_backups():
    api_server = Address("10.96.0.1")
    for overrides, expected_store in ((None, True), ({"selfHosted": {"highAvailability": True, "backups": False}}, False)):
        cluster, pods = _pods(ha(overrides))
        for name in ("instance", "pooler"):
            assert cluster.allows(pods[name], api_server, 443) and cluster.allows(pods[name], api_server, 6443)
            assert not cluster.allows(pods[name], Address("93.184.216.34"), 443)
            assert not cluster.allows(pods[name], Address("169.254.169.254"), 80)
        assert cluster.allows(pods["instance"], pods["object-store"], 8333) == expected_store
        assert not cluster.allows(pods["pooler"], pods["object-store"], 8333)
        assert not cluster.allows(pods["api"], api_server, 443)


def test_the_api_server_ranges_can_be_narrowed():
    cluster, pods = _pods(ha({"selfHosted": {"highAvailability": True, "apiServerCidrs": ["10.96.0.1/32"]}}))
    assert cluster.allows(pods["instance"], Address("10.96.0.1"), 443)
    assert not cluster.allows(pods["instance"], Address("10.96.0.2"), 443)


def test_external_object_storage_is_reached_at_its_addresses_for_backups():
    run = run_program("k8s", overrides={**HA, "objectStorage": {
        "mode": "external", "kind": "s3-compatible", "bucket": "dify-files", "endpoint": "https://10.30.0.5:9000",
        "accessKey": "AKIAK8STEST0000", "secretKey": "s3Secret-Lm93"}}, secret_keys=("objectStorage",))
    cluster, pods = _pods(run)
    assert cluster.allows(pods["instance"], Address("10.30.0.5"), 9000)
    assert not cluster.allows(pods["pooler"], Address("10.30.0.5"), 9000)
    store = next(m for m in manifests(run) if m["kind"] == "ObjectStore")
    assert store["spec"]["configuration"]["destinationPath"] == "s3://dify-files/postgres"
    assert_secrets_only_in_secrets(run, ["AKIAK8STEST0000", "s3Secret-Lm93"], must_reach=["s3Secret-Lm93"])


# -- config --------------------------------------------------------------------------------------

def _rejected(stack: str, overrides: dict) -> str:
    with pytest.raises(Exception) as raised:
        run_program(stack, overrides=overrides)
    return str(raised.value)


def test_production_with_ha_needs_no_allowance_but_the_object_store_zones():
    message = _rejected("k8s", {"size": "production", **HA, "postgres": {"maxConnections": 1200}})
    assert "selfHosted.objectStoreZones" in message and ".mode" not in message
    run = cached_run("k8s", PRODUCTION_HA)
    assert "allowSelfHostedDataInProduction" not in str(PRODUCTION_HA)
    assert cr(run, "Cluster")["spec"]["instances"] == 3


@pytest.mark.parametrize(("stack", "overrides", "key"), [
    ("dev", HA, "selfHosted.highAvailability"),
    ("prod", HA, "selfHosted.highAvailability"),
    ("k8s", {"selfHosted": {"highAvailability": True, "synchronousReplicas": 3}}, "selfHosted.synchronousReplicas"),
    ("k8s", {"selfHosted": {"postgresInstances": 1}}, "selfHosted.postgresInstances"),
    ("k8s", {"selfHosted": {"backupRetention": "30 days"}}, "selfHosted.backupRetention"),
    ("k8s", {"selfHosted": {"apiServerCidrs": ["10.96.0.1/8"]}}, "selfHosted.apiServerCidrs"),
    ("k8s", {"selfHosted": {"confirmDataModeSwitch": "yes"}}, "selfHosted.confirmDataModeSwitch"),
    ("k8s", {"selfHosted": {"postgresInstances": 5}}, "selfHosted.postgresInstances"),
    ("k8s", {"selfHosted": {"installOperators": False}}, "selfHosted.installOperators"),
])
def test_wrong_ha_config_is_rejected_naming_the_key(stack, overrides, key):
    assert key in _rejected(stack, overrides)


def test_ha_keys_without_ha_are_refused_not_dropped():
    message = _rejected("k8s", {"selfHosted": {"synchronousReplicas": 0}})
    assert "selfHosted.synchronousReplicas" in message and "selfHosted.highAvailability true" in message


# -- the data-mode switch ---------------------------------------------------------------------------

def test_a_switch_from_single_pods_is_refused_unless_confirmed():
    previous = {"selfHostedData": {"postgres": "single", "redis": "single", "object-store": "single"}}
    with pytest.raises(Exception) as raised:
        run_program("k8s", overrides=HA, previous_outputs=previous)
    assert "selfHosted.confirmDataModeSwitch single-to-ha" in str(raised.value)
    confirmed = {"selfHosted": {"highAvailability": True, "confirmDataModeSwitch": "single-to-ha"}}
    run = run_program("k8s", overrides=confirmed, previous_outputs=previous)
    assert run.outputs["selfHostedData"] == {"postgres": "ha", "redis": "ha", "object-store": "ha"}


def test_a_deployment_from_before_the_modes_counts_as_single_pods():
    previous = {"internalEndpoints": {"postgres": "postgres:5432", "redis": "redis:6379", "api": "api:5001"}}
    with pytest.raises(Exception) as raised:
        run_program("k8s", overrides=HA, previous_outputs=previous)
    assert "single-to-ha" in str(raised.value)
    assert data_mode.previous_modes(previous) == {"postgres": "single", "redis": "single"}


def test_a_switch_back_to_a_single_pod_is_refused_unless_confirmed():
    previous = {"selfHostedData": {"postgres": "ha", "redis": "single", "object-store": "single"}}
    with pytest.raises(Exception) as raised:
        run_program("k8s", previous_outputs=previous)
    assert "ha-to-single" in str(raised.value)
    run = run_program("k8s", overrides={"selfHosted": {"confirmDataModeSwitch": "ha-to-single"}},
                      previous_outputs=previous)
    assert run.outputs["selfHostedData"]["postgres"] == "single"


def test_the_same_mode_again_and_a_new_stack_need_no_confirmation():
    for previous in ({}, {"selfHostedData": {"postgres": "ha", "redis": "ha", "object-store": "ha"}}):
        run = run_program("k8s", overrides=HA, previous_outputs=previous)
        assert run.outputs["selfHostedData"]["postgres"] == "ha"


def test_an_unconfirmed_switch_stops_before_anything_is_declared():
    previous = {"selfHostedData": {"postgres": "single", "redis": "single", "object-store": "single"}}
    run = Run()
    with pytest.raises(Exception, match="confirmDataModeSwitch"):
        run_program("k8s", overrides=HA, previous_outputs=previous, run=run)
    assert run.stack_reads and not [r for r in run.resources if r.custom]


def test_switch_problem_names_every_unconfirmed_switch():
    assert data_mode.switch_problem({"postgres": "single"}, {"postgres": "single"}, None) is None
    assert data_mode.switch_problem({}, {"postgres": "ha"}, None) is None
    problem = data_mode.switch_problem({"postgres": "single"}, {"postgres": "ha"}, "ha-to-single")
    assert problem is not None and problem.key == "selfHosted.confirmDataModeSwitch"


# -- the change plan -------------------------------------------------------------------------------

def test_upgrades_and_size_changes_of_ha_postgres_lose_nothing():
    from components.dify.releases import LTS_VERSION

    old, new = cached_run("k8s", {**HA, "dify": {"version": LTS_VERSION}}), ha()
    assert stateful_losses(old, new) == []
    small = ha({"size": "small"})
    assert stateful_losses(new, small) == [] and stateful_losses(small, cached_run("k8s", PRODUCTION_HA)) == []


def test_the_switch_the_guard_stops_would_lose_the_single_pod():
    lost = {name for _, name, _ in stateful_losses(cached_run("k8s", {}), ha())}
    assert "dify-k8s-postgres" in lost


def test_pooler_parameters_follow_the_budget():
    args = postgres_ha.HaPostgresArgs(user="dify", database="dify", plugin_database="dify_plugin",
                                      max_connections=300, clients=180, usable_connections=264, pooler_instances=3)
    assert postgres_ha.pooler_parameters(args) == {"max_client_conn": "198", "default_pool_size": "88",
                                                   "max_user_connections": "88", "server_idle_timeout": "60"}


# -- Redis: replication under Sentinel (the OpsTree redis-operator) ---------------------------------

def opstree(run, kind: str) -> dict:
    found = [m for m in manifests(run) if m["kind"] == kind and m["apiVersion"] == "redis.redis.opstreelabs.in/v1beta2"]
    assert len(found) == 1, [m["metadata"]["name"] for m in found]
    return found[0]


SENTINELS = ",".join(f"redis-sentinel-{i}.redis-sentinel-headless:26379" for i in range(3))


def test_the_redis_operator_comes_from_its_pinned_chart_and_is_kept_on_destroy():
    run = ha()
    (release,) = [r for r in run.of_type("kubernetes:helm.sh/v3:Release") if r.plain["chart"] == "redis-operator"]
    assert release.plain["version"] == "0.22.0"
    assert release.plain["repositoryOpts"]["repo"] == "https://ot-container-kit.github.io/helm-charts"
    assert release.plain["namespace"] == "redis-operator" and release.options["retainOnDelete"] is True
    for kind in ("RedisReplication", "RedisSentinel"):
        assert release.urn in run.named(f"{OPSTREE}:{kind}", f"dify-k8s-redis-{kind[5:].lower()}").dependency_urns
    own = ha({"selfHosted": {"highAvailability": True, "installOperators": False,
                             "redisOperatorNamespace": "operators"}})
    assert not [r for r in own.of_type("kubernetes:helm.sh/v3:Release") if r.plain["chart"] == "redis-operator"]
    ingress = named(own, "NetworkPolicy", "dify-redis-data-ingress")
    assert {"kubernetes.io/metadata.name": "operators"} in [
        p.get("namespaceSelector", {}).get("matchLabels") for rule in ingress["spec"]["ingress"] for p in rule["from"]]


def test_three_redis_servers_and_three_sentinels_spread_over_zones_and_nodes_with_pdbs():
    for run, rule, affinity in ((ha(), "ScheduleAnyway", "preferredDuringSchedulingIgnoredDuringExecution"),
                                (cached_run("k8s", PRODUCTION_HA), "DoNotSchedule",
                                 "requiredDuringSchedulingIgnoredDuringExecution")):
        for kind, pods in (("RedisReplication", "replication"), ("RedisSentinel", "sentinel")):
            spec = opstree(run, kind)["spec"]
            assert spec["clusterSize"] == 3
            (zones,) = spec["topologySpreadConstraints"]
            assert zones["topologyKey"] == "topology.kubernetes.io/zone" and zones["whenUnsatisfiable"] == rule
            assert zones["labelSelector"]["matchLabels"]["redis_setup_type"] == pods
            assert affinity in spec["affinity"]["podAntiAffinity"]
            assert spec["pdb"] == {"enabled": True, "maxUnavailable": 1}
            assert spec["podSecurityContext"]["runAsNonRoot"] is True
            assert spec["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_redis_data_persists_on_volumes_sized_by_the_preset_and_is_protected_in_production():
    spec = opstree(cached_run("k8s", PRODUCTION_HA), "RedisReplication")["spec"]
    claim = spec["storage"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "10Gi" and claim["accessModes"] == ["ReadWriteOnce"]
    assert spec["storage"]["keepAfterDelete"] is True
    assert spec["kubernetesConfig"]["image"].startswith("quay.io/opstree/redis:v7.")
    production = cached_run("k8s", PRODUCTION_HA).named(f"{OPSTREE}:RedisReplication", "dify-k8s-redis-replication")
    dev = ha().named(f"{OPSTREE}:RedisReplication", "dify-k8s-redis-replication")
    assert production.options["protect"] is True and dev.options["protect"] is False
    assert dev.options["retainOnDelete"] is True
    annotations = opstree(ha(), "RedisReplication")["metadata"]["annotations"]
    assert annotations["pulumi.com/waitFor"] == "jsonpath={.status.masterNode}"


def test_the_sentinels_watch_the_replication_with_a_majority_quorum_and_auth():
    config = opstree(ha(), "RedisSentinel")["spec"]["redisSentinelConfig"]
    assert (config["redisReplicationName"], config["masterGroupName"], config["redisPort"]) == ("redis", "dify", "6379")
    assert config["quorum"] == "2"
    assert config["redisReplicationPassword"] == {"secretKeyRef": {"name": "redis-auth", "key": "password"}}
    five = opstree(ha({"selfHosted": {"highAvailability": True, "redisSentinels": 5}}), "RedisSentinel")["spec"]
    assert five["clusterSize"] == 5 and five["redisSentinelConfig"]["quorum"] == "3"


def test_the_redis_password_is_generated_and_only_in_secrets():
    run = ha()
    password = next(p for p in generated_passwords(run) if p.startswith("difyk8sredispassword"))
    auth = run.named("kubernetes:core/v1:Secret", "dify-k8s-redis-credentials")
    assert is_secret(auth.inputs["stringData"]) and auth.plain["stringData"] == {"password": password}
    for kind in ("RedisReplication", "RedisSentinel"):
        assert opstree(run, kind)["spec"]["kubernetesConfig"]["redisSecret"] == {"name": "redis-auth", "key": "password"}
    assert_secrets_only_in_secrets(run, [password], must_reach=[password])


def _secret_value(run, env: dict, key: str) -> str:
    ref = env[key]["valueFrom"]["secretKeyRef"]
    return next(m for m in of_kind(run, "Secret") if m["metadata"]["name"] == ref["name"])["stringData"][ref["key"]]


def test_dify_follows_the_master_through_the_sentinels():
    run = ha()
    password = next(p for p in generated_passwords(run) if p.startswith("difyk8sredispassword"))
    services = by_service(run)
    for name in ("api", "worker", "beat", "api-websocket", "migrate"):
        env = env_of(services[name])
        assert env["REDIS_USE_SENTINEL"]["value"] == "true", name
        assert env["REDIS_SENTINELS"]["value"] == SENTINELS
        assert env["REDIS_SENTINEL_SERVICE_NAME"]["value"] == "dify"
        assert env["CELERY_USE_SENTINEL"]["value"] == "true" and env["CELERY_SENTINEL_MASTER_NAME"]["value"] == "dify"
        assert float(env["CELERY_SENTINEL_SOCKET_TIMEOUT"]["value"]) > 0
        for key in ("REDIS_PASSWORD", "REDIS_SENTINEL_PASSWORD", "CELERY_SENTINEL_PASSWORD"):
            assert _secret_value(run, env, key) == password, (name, key)
        broker = _secret_value(run, env, "CELERY_BROKER_URL").split(";")
        assert broker == [f"sentinel://:{password}@redis-sentinel-{i}.redis-sentinel-headless:26379/1"
                          for i in range(3)]
    daemon = env_of(services["plugin-daemon"])
    assert daemon["REDIS_USE_SENTINEL"]["value"] == "true" and daemon["REDIS_SENTINELS"]["value"] == SENTINELS
    assert daemon["REDIS_SENTINEL_SERVICE_NAME"]["value"] == "dify"
    assert _secret_value(run, daemon, "REDIS_SENTINEL_PASSWORD") == password
    assert daemon["REDIS_HOST"]["value"] == "redis-master"


def test_the_agent_backend_uses_the_service_that_follows_the_master():
    run = ha()
    env = env_of(by_service(run)["agent-backend"])
    password = next(p for p in generated_passwords(run) if p.startswith("difyk8sredispassword"))
    assert _secret_value(run, env, "DIFY_AGENT_REDIS_URL") == f"redis://:{password}@redis-master:6379/2"


def test_every_sentinel_key_is_one_upstream_defines_for_that_service():
    from components.dify.releases import DEFAULT_VERSION, LTS_VERSION
    from tests.test_upstream_releases import CODE_READS, upstream_keys

    for version in (DEFAULT_VERSION, LTS_VERSION):
        services = by_service(ha({"dify": {"version": version}}))
        for name in ("api", "worker", "beat", "api-websocket", "plugin-daemon"):
            if name not in services:
                continue
            env = {k for k in env_of(services[name]) if any(w in k for w in ("REDIS", "CELERY", "SENTINEL"))}
            assert "REDIS_USE_SENTINEL" in env
            unknown = env - upstream_keys(version, name) - CODE_READS.get(name, set())
            assert not unknown, (version, name, sorted(unknown))


def test_kedas_queue_scaler_reads_the_master():
    run = run_program("k8s", overrides={**PRODUCTION_HA, "kubernetes": {
        **PRODUCTION_HA["kubernetes"], "kedaNamespace": "keda"}})
    scaled = [m for m in manifests(run) if m["kind"] == "ScaledObject"]
    assert len(scaled) == 3, "one per worker pool"
    redis = [t for m in scaled for t in m["spec"]["triggers"] if t["type"] == "redis"]
    assert redis and all(t["metadata"]["address"] == "redis-master:6379" for t in redis)
    keda = Pod("keda", {"app": "keda-operator"}, "10.244.3.2")
    cluster, pods = _redis_pods(run)
    assert cluster.allows(keda, pods["master"], 6379) and not cluster.allows(keda, pods["sentinel"], 26379)


def _redis_pods(run):
    objects = manifests(run)
    pods = {name: Pod("dify", {**m["spec"]["template"]["metadata"]["labels"]}, f"10.244.0.{i + 10}")
            for i, (name, m) in enumerate(sorted(by_service(run).items()))}
    replication, sentinel = opstree(run, "RedisReplication"), opstree(run, "RedisSentinel")
    data = {**replication["metadata"]["labels"], "app": "redis", "redis_setup_type": "replication",
            "role": "replication"}
    pods["master"] = Pod("dify", {**data, "redis-role": "master"}, "10.244.1.2")
    pods["replica"] = Pod("dify", {**data, "redis-role": "slave"}, "10.244.1.3")
    sentinels = {**sentinel["metadata"]["labels"], "app": "redis-sentinel", "redis_setup_type": "sentinel",
                 "role": "sentinel"}
    pods["sentinel"] = Pod("dify", sentinels, "10.244.1.4")
    pods["sentinel-2"] = Pod("dify", sentinels, "10.244.1.5")
    pods["operator"] = Pod("redis-operator", {"name": "redis-operator"}, "10.244.2.2")
    pods["stranger"] = Pod("redis-operator", {"name": "other"}, "10.244.2.3")
    return Cluster(objects), pods


REDIS_USERS = {"api", "worker", "beat", "plugin-daemon", "api-websocket", "migrate"}


def test_dify_reaches_the_redis_servers_and_the_sentinels_and_nothing_else_does():
    run = ha()
    cluster, pods = _redis_pods(run)
    own = {"master", "replica", "sentinel", "sentinel-2", "operator", "stranger"}
    # Every Redis client of the contract reaches both (the agent backend asks no sentinel, but is one).
    users = REDIS_USERS | {"agent-backend"}
    for name in set(pods) - own:
        assert cluster.allows(pods[name], pods["master"], 6379) == (name in users), name
        assert cluster.allows(pods[name], pods["sentinel"], 26379) == (name in users), name
        assert not cluster.allows(pods[name], pods["sentinel"], 6379), name
        assert not cluster.allows(pods[name], pods["master"], 26379), name
    assert not cluster.allows(pods["master"], pods["api"], 5001)


def test_the_redis_pods_reach_each_other_and_the_operator_reaches_them():
    cluster, pods = _redis_pods(ha())
    for a, b, port in (("replica", "master", 6379), ("master", "replica", 6379), ("sentinel", "master", 6379),
                       ("sentinel", "replica", 6379), ("sentinel", "sentinel-2", 26379),
                       ("master", "sentinel", 26379), ("operator", "master", 6379), ("operator", "sentinel", 26379)):
        assert cluster.allows(pods[a], pods[b], port), (a, b, port)
    for a, b, port in (("stranger", "master", 6379), ("stranger", "sentinel", 26379), ("master", "replica", 22),
                       ("sentinel", "api", 5001)):
        assert not cluster.allows(pods[a], pods[b], port), (a, b, port)
    assert not cluster.allows(pods["master"], Address("93.184.216.34"), 443)


@pytest.mark.parametrize(("overrides", "key"), [
    ({"selfHosted": {"highAvailability": True, "redisSentinels": 4}}, "selfHosted.redisSentinels"),
    ({"selfHosted": {"highAvailability": True, "redisInstances": 1}}, "selfHosted.redisInstances"),
    ({"selfHosted": {"redisInstances": 3}}, "selfHosted.redisInstances"),
    ({"selfHosted": {"redisOperatorChartVersion": "0.22.0"}}, "selfHosted.redisOperatorChartVersion"),
])
def test_wrong_ha_redis_config_is_rejected_naming_the_key(overrides, key):
    assert key in _rejected("k8s", overrides)


def test_a_switch_of_redis_alone_is_guarded_too():
    previous = {"selfHostedData": {"postgres": "ha", "redis": "single", "object-store": "ha"}}
    with pytest.raises(Exception) as raised:
        run_program("k8s", overrides=HA, previous_outputs=previous)
    assert "switches redis single -> ha" in str(raised.value)
    back = {"selfHostedData": {"postgres": "single", "redis": "ha", "object-store": "single"}}
    with pytest.raises(Exception) as raised:
        run_program("k8s", previous_outputs=back)
    assert "switches redis ha -> single" in str(raised.value)
    assert data_mode.current_modes(StackConfig.model_validate({"target": "kubernetes", **HA}))["redis"] == "ha"


def test_the_switch_to_ha_redis_would_lose_the_single_pod_and_upgrades_lose_nothing():
    lost = {name for _, name, _ in stateful_losses(cached_run("k8s", {}), ha())}
    assert "dify-k8s-redis" in lost
    assert not [loss for loss in stateful_losses(ha(), cached_run("k8s", PRODUCTION_HA)) if "redis" in loss[1]]


# -- the object store: distributed SeaweedFS -------------------------------------------------------

SEAWEEDFS_CLUSTER = ("master", "filer", "bucket-hook")
OBJECT_STORE_USERS = {"api", "worker", "beat", "plugin-daemon", "api-websocket", "migrate", "restore-point"}


def seaweedfs_release(run):
    found = [r for r in run.of_type("kubernetes:helm.sh/v3:Release") if r.plain["chart"] == "seaweedfs"]
    assert len(found) == 1
    return found[0]


def test_the_object_store_is_seaweedfss_own_chart_in_difys_namespace_with_the_servers_image():
    release = seaweedfs_release(ha()).plain
    assert (release["version"], release["repositoryOpts"]["repo"]) == ("4.44.0", "https://seaweedfs.github.io/seaweedfs/helm")
    assert release["namespace"] == "dify" and release["name"] == "object-store"
    values = release["values"]
    assert values["global"]["seaweedfs"]["image"]["name"] + ":" + values["image"]["tag"] == "chrislusf/seaweedfs:4.47"
    assert release["waitForJobs"] is True
    seaweedfs = values["global"]["seaweedfs"]
    assert seaweedfs["createClusterRole"] is False and seaweedfs["automountServiceAccountToken"] is False


def test_three_raft_masters_filers_gateways_and_volume_servers_over_the_listed_zones():
    values = seaweedfs_values(cached_run("k8s", PRODUCTION_HA))
    assert values["master"]["replicas"] == 3 and values["filer"]["replicas"] == 2 and values["s3"]["replicas"] == 2
    assert values["volume"]["enabled"] is False
    groups = values["volumes"]
    assert set(groups) == {"zone-a", "zone-b", "zone-c"}
    for zone, group in groups.items():
        assert group["rack"] == zone and group["replicas"] == 1
        assert yaml.safe_load(group["nodeSelector"]) == {"topology.kubernetes.io/zone": zone}
        assert group["dataDirs"][0]["type"] == "persistentVolumeClaim" and group["dataDirs"][0]["size"] == "50Gi"
    # A second copy of every object on another rack (zone): the loss of one zone loses no object.
    assert values["master"]["defaultReplication"] == "010"
    assert values["global"]["seaweedfs"] == {**values["global"]["seaweedfs"], "enableReplication": True,
                                             "replicationPlacement": "010"}
    for part in ("master", "filer", "s3"):
        spread = yaml.safe_load(values[part]["topologySpreadConstraints"])[0]
        assert (spread["topologyKey"], spread["whenUnsatisfiable"]) == ("topology.kubernetes.io/zone", "DoNotSchedule")
        apart = yaml.safe_load(values[part]["affinity"])["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert apart[0]["topologyKey"] == "kubernetes.io/hostname"
        assert apart[0]["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == part
    assert values["master"]["data"]["type"] == values["filer"]["data"]["type"] == "persistentVolumeClaim"
    assert all(values[p]["logs"] == {"type": "emptyDir"} for p in ("master", "filer", "s3", "volume"))


def test_without_zones_the_volume_servers_keep_a_copy_on_another_server():
    values = seaweedfs_values(ha())
    assert values["volume"]["replicas"] == 3 and not values.get("volumes")
    assert values["master"]["defaultReplication"] == "001"
    spread = yaml.safe_load(values["volume"]["topologySpreadConstraints"])[0]
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"


def test_more_volume_servers_than_zones_are_shared_out():
    values = seaweedfs_values(ha({"selfHosted": {"highAvailability": True, "objectStoreZones": ["a", "b"],
                                                 "objectStoreVolumeServers": 5}}))
    assert {g: v["replicas"] for g, v in values["volumes"].items()} == {"a": 3, "b": 2}


def test_one_pod_of_each_part_and_one_volume_server_at_a_time():
    run = cached_run("k8s", PRODUCTION_HA)
    budgets = {m["metadata"]["name"]: m["spec"] for m in of_kind(run, "PodDisruptionBudget")
               if m["metadata"]["name"].startswith("object-store-")}
    assert set(budgets) == {"object-store-master", "object-store-filer", "object-store-s3", "object-store-volume"}
    assert all(b["maxUnavailable"] == 1 for b in budgets.values())
    assert budgets["object-store-s3"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "s3"
    volume = budgets["object-store-volume"]["selector"]["matchExpressions"][0]
    assert sorted(volume["values"]) == ["volume-zone-a", "volume-zone-b", "volume-zone-c"]
    pods = seaweedfs_pods(run)
    for pod, budget in (("volume-zone-b", "object-store-volume"), ("object-store", "object-store-s3"),
                        ("master", "object-store-master")):
        assert {n for n, b in budgets.items() if _selects(b["selector"], pods[pod].labels)} == {budget}, pod


def test_the_identity_comes_from_an_existing_secret_and_both_buckets_are_created():
    run = ha()
    values = seaweedfs_values(run)["s3"]
    assert values["enableAuth"] is True and values["existingConfigSecret"] == "object-store-s3-config"
    assert [b["name"] for b in values["createBuckets"]] == ["dify", "dify-plugins"]
    secret = named(run, "Secret", "object-store-s3-config")
    config = json.loads(reveal(secret["stringData"])["seaweedfs_s3_config"])
    keys = {r.name: r for r in run.of_type("random:index/randomPassword:RandomPassword")}
    credentials = config["identities"][0]["credentials"][0]
    assert credentials == {"accessKey": generated_password("dify-k8s-object-store-access-key", 20),
                           "secretKey": generated_password("dify-k8s-object-store-secret-key", 40)}
    assert {"dify-k8s-object-store-access-key", "dify-k8s-object-store-secret-key"} <= set(keys)
    assert_secrets_only_in_secrets(run, generated_passwords(run), must_reach=list(credentials.values()))


def test_dify_and_the_backups_use_the_s3_gateway():
    run = ha()
    api = by_service(run)["api"]
    env = env_of(api)
    assert env["S3_ENDPOINT"]["value"] == "http://object-store-s3:8333"
    store = next(m for m in manifests(run) if m["kind"] == "ObjectStore")
    assert store["spec"]["configuration"]["endpointURL"] == "http://object-store-s3:8333"
    point = next(r for r in run.of_type("kubernetes:batch/v1:Job") if "restore-point" in r.name)
    assert seaweedfs_release(run).urn in point.dependency_urns, "the restore point uploads once the buckets exist"
    cluster = run.named(f"{CNPG}:Cluster", "dify-k8s-postgres-cluster")
    assert seaweedfs_release(run).urn in cluster.dependency_urns, "WAL archiving starts once the buckets exist"


def test_object_store_clients_reach_the_gateway_only_and_seaweedfs_reaches_itself():
    cluster, pods = _pods(ha())
    servers = {"master", "filer", "bucket-hook", "volume"}
    for name in set(pods) - servers - {"object-store", "instance", "replica", "pooler", "operator", "stranger"}:
        assert cluster.allows(pods[name], pods["object-store"], 8333) == (name in OBJECT_STORE_USERS), name
        for server, port in (("master", 9333), ("filer", 8888), ("volume", 8080)):
            assert not cluster.allows(pods[name], pods[server], port), (name, server)
    assert cluster.allows(pods["instance"], pods["object-store"], 8333)
    assert not cluster.allows(pods["instance"], pods["filer"], 8888)
    for a, b, port in (("object-store", "filer", 18888), ("object-store", "volume", 8080), ("volume", "master", 19333),
                       ("master", "master", 19333), ("filer", "master", 9333), ("bucket-hook", "filer", 18888),
                       ("master", "volume", 18080)):
        assert cluster.allows(pods[a], pods[b], port), (a, b, port)
    for a, b, port in (("master", "api", 5001), ("volume", "master", 22), ("stranger", "master", 9333),
                       ("filer", "instance", 5432)):
        assert not cluster.allows(pods[a], pods[b], port), (a, b, port)
    assert not cluster.allows(pods["filer"], Address("93.184.216.34"), 443)


def test_a_switch_of_the_object_store_alone_is_guarded_too():
    previous = {"selfHostedData": {"postgres": "ha", "redis": "ha", "object-store": "single"}}
    with pytest.raises(Exception) as raised:
        run_program("k8s", overrides=HA, previous_outputs=previous)
    assert "switches object-store single -> ha" in str(raised.value)
    confirmed = {"selfHosted": {"highAvailability": True, "confirmDataModeSwitch": "single-to-ha"}}
    assert run_program("k8s", overrides=confirmed, previous_outputs=previous).outputs["selfHostedData"][
        "object-store"] == "ha"


def test_the_switch_loses_the_single_pod_and_upgrades_and_size_changes_lose_nothing():
    from components.dify.releases import LTS_VERSION

    assert "dify-k8s-object-store" in {name for _, name, _ in stateful_losses(cached_run("k8s", {}), ha())}
    production = cached_run("k8s", PRODUCTION_HA)
    old = cached_run("k8s", {**HA, "dify": {"version": LTS_VERSION}})
    for before, after in ((old, ha()), (ha(), ha({"size": "small"})), (ha({"size": "small"}), production)):
        assert stateful_losses(before, after) == []
        claims = [seaweedfs_values(r)["master"]["data"] for r in (before, after)]
        assert claims[0] == claims[1]
    assert seaweedfs_release(production).options["protect"] is True
    assert seaweedfs_release(ha()).options["retainOnDelete"] is True


@pytest.mark.parametrize(("overrides", "key"), [
    ({"selfHosted": {"highAvailability": True, "objectStoreZones": ["a", "a"]}}, "selfHosted.objectStoreZones"),
    ({"selfHosted": {"highAvailability": True, "objectStoreZones": ["a", "b", "c"], "objectStoreVolumeServers": 2}},
     "selfHosted.objectStoreVolumeServers"),
    ({"selfHosted": {"highAvailability": True, "objectStoreVolumeSize": "lots"}}, "selfHosted.objectStoreVolumeSize"),
    ({"selfHosted": {"highAvailability": True, "objectStoreFilers": 1}}, "selfHosted.objectStoreFilers"),
])
def test_wrong_ha_object_store_config_is_rejected_naming_the_key(overrides, key):
    assert key in _rejected("k8s", overrides)
