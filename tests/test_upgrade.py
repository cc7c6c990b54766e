"""The upgrade from the 1.13 LTS line to the newest release, per example stack: what changes, and that
nothing holding data is replaced or deleted."""

import pytest

from components.dify.releases import DEFAULT_VERSION, LTS_VERSION
from tests.change_plan import DATA_SERVICES, cached_run, is_stateful
from tools.mocks import manifest

STACKS = ("dev", "k8s", "prod", "alicloud")

# Besides what holds data (tests.change_plan.is_stateful), the infrastructure under it: a Dify release
# changes none of it, so the engine neither updates nor replaces any of these; none may disappear.
INFRASTRUCTURE = {
    "docker:index/network:Network",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:kms/key:Key",
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "alicloud:cs/managedKubernetes:ManagedKubernetes",
    "alicloud:cs/nodePool:NodePool",
}


def _key(resource):
    return resource.typ, resource.name


def _is_stateful(resource) -> bool:
    # ... and the data services' own workloads (their containers and StatefulSets).
    return (is_stateful(resource) or resource.typ in INFRASTRUCTURE
            or resource.name.endswith(tuple(f"-{d}" for d in DATA_SERVICES)))


@pytest.fixture(scope="module", params=STACKS)
def upgrade(request):
    stack = request.param
    old = cached_run(stack, {"dify": {"version": LTS_VERSION}})
    return stack, old, cached_run(stack, {}, after=old)


def test_the_example_stacks_default_to_the_newest_release(upgrade):
    _, old, new = upgrade
    assert old.outputs["difyVersion"] == LTS_VERSION
    assert new.outputs["difyVersion"] == DEFAULT_VERSION != LTS_VERSION


def test_nothing_holding_data_is_replaced_or_deleted(upgrade):
    stack, old, new = upgrade
    after = {_key(r): r for r in new.resources}
    stateful = [r for r in old.resources if _is_stateful(r)]
    assert stateful, f"{stack}: no stateful resource found; the test would pass vacuously"
    for resource in stateful:
        assert _key(resource) in after, f"{stack}: the upgrade deletes {resource.typ} {resource.name}"
        assert after[_key(resource)].plain == resource.plain, \
            f"{stack}: the upgrade changes {resource.typ} {resource.name}"


def test_the_upgrade_removes_nothing_and_changes_only_dify(upgrade):
    stack, old, new = upgrade
    after = {_key(r): r for r in new.resources}
    removed = {_key(r) for r in old.resources} - set(after)
    # The old release's image resources go; the images stay on the host (keepLocally) for a roll-back.
    assert {t for t, _ in removed} <= {"docker:index/remoteImage:RemoteImage"}, (stack, removed)
    changed = sorted(name for r in old.resources if _key(r) in after
                     for name in [r.name] if after[_key(r)].plain != r.plain)
    assert changed, f"{stack}: the version bump changed nothing"
    assert not [n for n in changed if any(n.endswith(f"-{d}") for d in DATA_SERVICES)], changed


def test_the_new_release_adds_its_services(upgrade):
    stack, old, new = upgrade

    def services(run):
        if stack == "dev":
            return {r.name.removeprefix("dify-dev-") for r in run.of_type("docker:index/container:Container")}
        return {manifest(r)["metadata"]["name"] for r in run.of_type("kubernetes:apps/v1:Deployment")}

    assert services(new) - services(old) == {"api-websocket", "agent-backend", "local-sandbox", "agent-ssrf-proxy"}
    assert services(old) <= services(new)


# What takes the restore point before the new release migrates, per stack: (type, logical name).
RESTORE_POINTS = {
    "dev": ("docker:index/container:Container", "dify-dev-restore-point"),
    "k8s": ("kubernetes:batch/v1:Job", "dify-k8s-restore-point"),
    "prod": ("aws:rds/snapshot:Snapshot", f"dify-prod-postgres-before-{DEFAULT_VERSION}-2"),
    "alicloud": ("alicloud:rds/rdsBackup:RdsBackup", f"dify-alicloud-postgres-before-{DEFAULT_VERSION}-2"),
}


def test_the_upgrade_takes_a_restore_point_before_anything_migrates(upgrade):
    stack, old, new = upgrade
    typ, name = RESTORE_POINTS[stack]
    point = new.named(typ, name)
    before = {_key(r): r for r in old.resources}
    # A new one (the snapshot, the backup set), or the dump run again (a replaced Job or container).
    assert _key(point) not in before or before[_key(point)].plain != point.plain
    migrating = ([new.named("docker:index/container:Container", "dify-dev-api")] if stack == "dev" else
                 [new.named("kubernetes:batch/v1:Job", f"dify-{stack}-{j}") for j in ("migrate", "plugin-migrate")])
    for resource in migrating:
        assert point.urn in resource.dependency_urns, (stack, resource.name)
