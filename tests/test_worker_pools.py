"""Celery worker pools (`workers`) and PriorityClasses: every queue consumed by exactly one pool, per release;
each pool's own Deployment, concurrency, autoscaler on its own queues and disruption budget on a cluster (and
through a cloud stack); one worker by default and optional pools on Docker; the connection budget; every pod
in a priority tier."""

import pytest

from components.dify import workers
from components.dify.releases import RELEASES
from components.kubernetes import priority
from stacks import budget
from tests.change_plan import cached_run, names, plan, stateful_losses
from tests.test_budget import config_of
from tools.mocks import PROJECT, manifest, run_program

DEPLOYMENT, SCALED = "kubernetes:apps/v1:Deployment", "kubernetes:keda.sh/v1alpha1:ScaledObject"
POD_OWNERS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job")
POOLS = ("worker-dataset", "worker-workflow", "worker-ops")
SPLIT = {"workers": {"layout": "split"}}
PRODUCTION_K8S = {"size": "production", "postgres": {"maxConnections": 1200},
                  "kubernetes": {"namespace": "dify", "allowSelfHostedDataInProduction": True,
                                 "kedaNamespace": "keda"}}
BACKGROUND = {"beat", "sandbox", *POOLS, "worker"}


def env_of(m):
    return {e["name"]: e.get("value") for e in m["spec"]["template"]["spec"]["containers"][0]["env"]}


def deployments(run):
    return {manifest(r)["metadata"]["name"]: manifest(r) for r in run.of_type(DEPLOYMENT)}


@pytest.mark.parametrize("version", sorted(RELEASES))
@pytest.mark.parametrize("layout", ["single", "split"])
def test_every_queue_of_the_release_is_consumed_by_exactly_one_pool(version, layout):
    queues = RELEASES[version].worker_queues
    assert len(queues) >= 19 and len(set(queues)) == len(queues)
    pools = workers.pools(queues, layout, {name: 4 for name in workers.POOLS})
    consumed = [q for pool in pools for q in pool.watched]
    assert sorted(consumed) == sorted(queues)
    if layout == "split":
        assert [p.name for p in pools] == list(workers.SPLIT) and all(p.queues == p.watched for p in pools)
        assert {"dataset", "priority_dataset", "pipeline"} <= set(pools[0].queues)
        assert {"workflow", "workflow_storage", "schedule_executor"} <= set(pools[1].queues)
        assert {"mail", "ops_trace", "plugin", "app_deletion"} <= set(pools[2].queues)
    else:
        # The single worker keeps the image's own list, so a queue a release adds is never left unconsumed.
        assert [p.name for p in pools] == ["all"] and pools[0].queues == ()


@pytest.mark.parametrize("version", sorted(RELEASES))
def test_the_rendered_pools_consume_the_release_and_scale_on_their_own_queues(version):
    run = cached_run("k8s", {**PRODUCTION_K8S, "dify": {"version": version}})
    found = deployments(run)
    assert "worker" not in found and set(POOLS) <= set(found)
    consumed = [q for pool in POOLS for q in env_of(found[pool])["CELERY_QUEUES"].split(",")]
    assert sorted(consumed) == sorted(RELEASES[version].worker_queues)
    assert {p: ",".join(q) for p, q in run.outputs["workerPools"].items()} == {
        p: env_of(found[p])["CELERY_QUEUES"] for p in POOLS}
    scaled = {manifest(r)["metadata"]["name"]: manifest(r)["spec"] for r in run.of_type(SCALED)}
    assert set(scaled) == set(POOLS)
    for pool in POOLS:
        env = env_of(found[pool])
        watched = {t["metadata"]["listName"] for t in scaled[pool]["triggers"] if t["type"] == "redis"}
        assert watched == set(env["CELERY_QUEUES"].split(","))
        assert {t["metadata"]["listLength"] for t in scaled[pool]["triggers"] if t["type"] == "redis"} == {
            env["CELERY_WORKER_AMOUNT"]}
        assert scaled[pool]["scaleTargetRef"] == {"name": pool}
    assert (scaled["worker-dataset"]["minReplicaCount"], scaled["worker-dataset"]["maxReplicaCount"]) == (2, 6)
    assert (scaled["worker-ops"]["minReplicaCount"], scaled["worker-ops"]["maxReplicaCount"]) == (2, 4)
    auths = {manifest(r)["metadata"]["name"] for r in run.of_type("kubernetes:keda.sh/v1alpha1:TriggerAuthentication")}
    assert auths == {f"{pool}-redis" for pool in POOLS}


def test_a_cloud_stack_runs_the_production_pools_with_autoscalers_budgets_and_identities():
    run = cached_run("prod", {})
    found = deployments(run)
    assert {p: env_of(found[p])["CELERY_WORKER_AMOUNT"] for p in POOLS} == {
        "worker-dataset": "8", "worker-workflow": "16", "worker-ops": "4"}
    hpas = {manifest(r)["metadata"]["name"]: manifest(r)["spec"]
            for r in run.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")}
    assert {p: (hpas[p]["minReplicas"], hpas[p]["maxReplicas"]) for p in POOLS} == {
        "worker-dataset": (2, 6), "worker-workflow": (2, 10), "worker-ops": (2, 4)}
    pdbs = {manifest(r)["metadata"]["name"]: manifest(r)["spec"]
            for r in run.of_type("kubernetes:policy/v1:PodDisruptionBudget")}
    for pool in POOLS:
        assert pdbs[pool]["selector"]["matchLabels"]["app.kubernetes.io/name"] == pool
    ops = found["worker-ops"]["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert ops["limits"] == {"cpu": "1", "memory": "1Gi"}
    # The pools write the bucket as the worker did: the api's IRSA role trusts their service accounts.
    accounts = {manifest(r)["metadata"]["name"]: manifest(r)["metadata"].get("annotations", {})
                for r in run.of_type("kubernetes:core/v1:ServiceAccount")}
    roles = {accounts[p].get("eks.amazonaws.com/role-arn") for p in ("api", *POOLS)}
    assert len(roles) == 1 and None not in roles


def test_pool_overrides_and_the_single_worker_of_small_stacks():
    run = cached_run("k8s", {"workers": {"layout": "split", "pools": {
        "dataset": {"concurrency": 3, "minReplicas": 2, "maxReplicas": 5}, "ops": {"minReplicas": 2}}}})
    found = deployments(run)
    assert env_of(found["worker-dataset"])["CELERY_WORKER_AMOUNT"] == "3"
    hpas = {manifest(r)["metadata"]["name"]: manifest(r)["spec"]
            for r in run.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")}
    assert (hpas["worker-dataset"]["minReplicas"], hpas["worker-dataset"]["maxReplicas"]) == (2, 5)
    assert "worker-ops" not in hpas and found["worker-ops"]["spec"]["replicas"] == 2
    assert env_of(found["worker-ops"])["CELERY_WORKER_AMOUNT"] == "2"
    default = deployments(cached_run("k8s", {}))
    assert "worker" in default and not set(POOLS) & set(default)
    assert "CELERY_QUEUES" not in env_of(default["worker"]) and env_of(default["worker"])["CELERY_WORKER_AMOUNT"] == "4"


def test_docker_keeps_one_worker_and_runs_pools_when_asked():
    def workers_of(run):
        return {c.name.removeprefix("dify-dev-"): dict(e.split("=", 1) for e in c.plain["envs"])
                for c in run.of_type("docker:index/container:Container") if "-worker" in c.name}

    single = workers_of(cached_run("dev", {}))
    assert list(single) == ["worker"] and "CELERY_QUEUES" not in single["worker"]
    assert cached_run("dev", {}).outputs["workerPools"] == {"worker": list(RELEASES["1.16.1"].worker_queues)}
    split = workers_of(cached_run("dev", {**SPLIT, "dify": {"extraEnv": {"worker": {"LOG_LEVEL": "DEBUG"}}}}))
    assert sorted(split) == sorted(POOLS)
    consumed = [q for env in split.values() for q in env["CELERY_QUEUES"].split(",")]
    assert sorted(consumed) == sorted(RELEASES["1.16.1"].worker_queues)
    assert {env["CELERY_WORKER_AMOUNT"] for env in split.values()} == {"4", "2"}
    assert all(env["LOG_LEVEL"] == "DEBUG" for env in split.values()), "extraEnv.worker reaches every pool"


def test_the_budget_counts_every_pools_most_pods_times_its_concurrency():
    config = config_of("prod")
    needed = budget.needed_connections(config)
    assert "worker" not in needed
    # (max replicas + 1 during a rollout) x (tasks, up to the SQLAlchemy pool of 15, + tasks, up to pgvector's 5).
    assert needed["worker-dataset"] == 7 * (8 + 5)
    assert needed["worker-workflow"] == 11 * (15 + 5)
    assert needed["worker-ops"] == 5 * (4 + 4)
    bigger = config_of("prod", workers={"pools": {"workflow": {"concurrency": 40, "maxReplicas": 20}}})
    assert budget.needed_connections(bigger)["worker-workflow"] == 21 * 20
    assert budget.budget(config).fits


def test_switching_to_pools_replaces_nothing_stateful():
    for stack, before, after in (("k8s", {}, SPLIT), ("prod", {"workers": {"layout": "single"}}, {}),
                                 ("dev", {}, SPLIT)):
        old, new = cached_run(stack, before), cached_run(stack, after)
        assert stateful_losses(old, new) == [] and stateful_losses(new, old) == [], stack
        steps = plan(old, new)
        assert any(n.endswith("-worker") for n in names(steps["delete"])), stack
        assert {f"-{p}" for p in POOLS} <= {"-" + n.split("-", 2)[-1] for n in names(steps["create"])}, stack


def test_every_pod_has_a_priority_tier_and_the_classes_are_the_stacks_own():
    for stack in ("k8s", "prod"):
        run = cached_run(stack, {})
        prefix = f"dify-{stack}"
        classes = {manifest(r)["metadata"]["name"]: manifest(r)
                   for r in run.of_type("kubernetes:scheduling.k8s.io/v1:PriorityClass")}
        assert set(classes) == {f"{prefix}-critical", f"{prefix}-background"}
        assert classes[f"{prefix}-critical"]["value"] > classes[f"{prefix}-background"]["value"]
        assert classes[f"{prefix}-background"]["preemptionPolicy"] == "Never"
        assert not any(c.get("globalDefault") for c in classes.values())
        pods = {}
        for typ in POD_OWNERS:
            for r in run.of_type(typ):
                m = manifest(r)
                pods[r.name.removeprefix(f"{prefix}-")] = m["spec"]["template"]["spec"].get("priorityClassName")
        assert None not in pods.values(), pods
        for name, chosen in pods.items():
            tier = "background" if name in BACKGROUND else "critical"
            assert chosen == f"{prefix}-{tier}", name
        assert {"api", "web", "nginx", "plugin-daemon"} <= {n for n, c in pods.items() if c.endswith("-critical")}
    assert pods["worker-workflow"].endswith("-background")


def test_named_priority_classes_are_used_and_none_is_created():
    run = cached_run("k8s", {"kubernetes": {"namespace": "dify", "priorityClasses": {"critical": "platform-high"}}})
    created = {manifest(r)["metadata"]["name"] for r in run.of_type("kubernetes:scheduling.k8s.io/v1:PriorityClass")}
    assert created == {"dify-k8s-background"}
    api = deployments(run)["api"]["spec"]["template"]["spec"]
    assert api["priorityClassName"] == "platform-high"
    off = cached_run("k8s", {"kubernetes": {"namespace": "dify", "priorityClasses": {"enabled": False}}})
    assert not off.of_type("kubernetes:scheduling.k8s.io/v1:PriorityClass")
    assert "priorityClassName" not in deployments(off)["api"]["spec"]["template"]["spec"]
    assert priority.VALUES["critical"] < 1_000_000_000


@pytest.mark.parametrize(("stack", "overrides", "key", "hint"), [
    ("k8s", {"workers": {"pools": {"dataset": {"concurrency": 2}}}}, "workers.pools.dataset", "layout single"),
    ("prod", {"workers": {"pools": {"all": {"concurrency": 2}}}}, "workers.pools.all", "dataset, workflow, ops"),
    ("dev", {"workers": {"layout": "split", "pools": {"ops": {"maxReplicas": 3}}}}, "workers.pools.ops.maxReplicas",
     "one container per pool"),
    ("prod", {"workers": {"pools": {"ops": {"maxReplicas": 1}}}}, "workers.pools.ops.maxReplicas", "minimum of 2"),
    ("k8s", {"workers": {"pools": {"all": {"concurrency": 0}}}}, "workers.pools.all.concurrency", "greater than"),
    ("k8s", {"workers": {"layout": "split"}, "dify": {"version": "1.99.0", "sandboxVersion": "0.2.16",
                                                    "pluginDaemonVersion": "0.6.11-local",
                                                    "agentBackendVersion": "1.99.0", "localSandboxVersion": "1.99.0"}},
     "workers.layout", "layout single"),
    ("k8s", {"kubernetes": {"namespace": "dify", "priorityClasses": {"critical": "system-cluster-critical"}}},
     "kubernetes.priorityClasses.critical", "the system- classes"),
    ("k8s", {"kubernetes": {"namespace": "dify", "priorityClasses": {"background": "Low_Priority"}}},
     "kubernetes.priorityClasses.background", "PriorityClass"),
    ("dev", {"nginx": {"rateLimit": {"connectionsPerIp": 5}}}, "nginx.rateLimit.connectionsPerIp", "at least 20"),
    ("k8s", {"nginx": {"trustedProxies": ["0.0.0.0/0"]}}, "nginx.trustedProxies", "trusts every address"),
])
def test_wrong_pool_priority_and_limit_config_is_rejected_naming_the_key(stack, overrides, key, hint):
    with pytest.raises(Exception) as raised:
        run_program(stack, overrides=overrides)
    message = str(raised.value)
    assert f"{PROJECT}:{key}" in message and hint in message, message
