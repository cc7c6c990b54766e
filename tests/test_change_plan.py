"""Config changes an operator makes, and what each would make the engine replace or delete: never
anything that holds data."""

import pytest

from components.dify.releases import LTS_VERSION
from tests.change_plan import cached_run, names, plan, stateful_losses

CLUSTER_STACKS = ("k8s", "prod", "alicloud")
SELF_HOSTED_PRODUCTION = {"kubernetes": {"namespace": "dify", "allowSelfHostedDataInProduction": True},
                          "postgres": {"maxConnections": 1200}}


def _runs(stack, *variants):
    """One run per variant, each a later `pulumi up` of the same stack than the one before."""
    runs = []
    for overrides in variants:
        runs.append(cached_run(stack, overrides, after=runs[-1] if runs else None))
    return runs


@pytest.mark.parametrize("stack", ("dev",) + CLUSTER_STACKS)
def test_a_version_bump_from_the_lts_line_loses_nothing(stack):
    old, new = _runs(stack, {"dify": {"version": LTS_VERSION}}, {})
    assert stateful_losses(old, new) == []
    assert plan(old, new)["replace"], "a version bump replaces the migration Job at least (or containers)"


@pytest.mark.parametrize("stack", ("dev",) + CLUSTER_STACKS)
@pytest.mark.parametrize("features", [{"agent": False}, {"collaboration": False}, {"agent": False, "collaboration": False}])
def test_toggling_features_loses_nothing(stack, features):
    on, off = _runs(stack, {}, {"dify": {"features": features}})
    assert stateful_losses(on, off) == [] and stateful_losses(off, on) == []
    removed = names(plan(on, off)["delete"])
    if features.get("agent") is False:
        assert any(n.endswith("-agent-backend") for n in removed)


def test_size_changes_of_self_hosted_data_grow_claims_in_place():
    dev, small, production = _runs(
        "k8s", {}, {"size": "small"}, {"size": "production", **SELF_HOSTED_PRODUCTION})
    for before, after in ((dev, small), (small, production)):
        assert stateful_losses(before, after) == []
    patches = {r.name: r.plain for r in production.of_type("kubernetes:core/v1:PersistentVolumeClaimPatch")}
    assert patches["dify-k8s-postgres-data-claim"]["metadata"]["name"] == "postgres-data-postgres-0"
    sizes = [{r.name: r.plain["spec"]["resources"]["requests"]["storage"]
              for r in run.of_type("kubernetes:core/v1:PersistentVolumeClaimPatch")} for run in (dev, small, production)]
    assert [s["dify-k8s-postgres-data-claim"] for s in sizes] == ["10Gi", "20Gi", "50Gi"]
    statefulset = production.named("kubernetes:apps/v1:StatefulSet", "dify-k8s-postgres")
    assert "spec.volumeClaimTemplates" in statefulset.options["ignoreChanges"]


@pytest.mark.parametrize("stack", ("prod", "alicloud"))
def test_size_changes_on_the_clouds_lose_nothing(stack):
    runs = _runs(stack, {"size": "dev"}, {"size": "small"}, {})
    for before, after in zip(runs, runs[1:]):
        assert stateful_losses(before, after) == [], stack


def test_the_plan_sees_a_replacement_that_would_lose_data():
    """The checker itself: renaming the namespace would replace it (and delete its claims)."""
    before, after = _runs("k8s", {}, {"kubernetes": {"namespace": "dify-two"}})
    lost = {(t, n) for t, n, _ in stateful_losses(before, after)}
    assert ("kubernetes:core/v1:Namespace", "dify-k8s-namespace") in lost
    assert ("kubernetes:apps/v1:StatefulSet", "dify-k8s-postgres") in lost


def test_claims_can_be_left_at_their_size_where_the_storage_class_cannot_grow_them():
    dev, small = _runs("k8s", {"kubernetes": {"namespace": "dify", "growVolumes": False}},
                       {"size": "small", "kubernetes": {"namespace": "dify", "growVolumes": False}})
    assert not small.of_type("kubernetes:core/v1:PersistentVolumeClaimPatch")
    assert stateful_losses(dev, small) == []
