"""A restore point before every migration: on the clouds a snapshot / backup set per kept point, keyed by
the release and the upgrade, that Dify's migrations wait for, and only the newest `keep` kept."""

import re

import pytest

from components.dify.releases import DEFAULT_VERSION, LTS_VERSION
from components.restore_points import RestorePoint, kept_points
from tests.change_plan import cached_run, plan, stateful_losses

SNAPSHOT, BACKUP = "aws:rds/snapshot:Snapshot", "alicloud:rds/rdsBackup:RdsBackup"
RESTORE_POINT = {"prod": SNAPSHOT, "alicloud": BACKUP}
JOB = "kubernetes:batch/v1:Job"
# RDS's rule for DB snapshot identifiers.
RDS_IDENTIFIER = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,254}(?<!-)$")


def _chain(stack, *variants):
    runs = []
    for overrides in variants:
        runs.append(cached_run(stack, overrides, after=runs[-1] if runs else None))
    return runs


def _waits_for(run, job_name, resource):
    return resource.urn in run.named(JOB, job_name).dependency_urns


@pytest.mark.parametrize("stack", ("prod", "alicloud"))
def test_the_first_deploy_takes_a_restore_point_the_migrations_wait_for(stack):
    run = cached_run(stack, {})
    [point] = run.of_type(RESTORE_POINT[stack])
    assert point.name == f"dify-{stack}-postgres-before-{DEFAULT_VERSION}-1"
    [output] = run.outputs["restorePoints"]
    assert {k: output[k] for k in ("ordinal", "release", "name")} == {
        "ordinal": 1, "release": DEFAULT_VERSION, "name": f"dify-{stack}-before-{DEFAULT_VERSION.replace('.', '-')}-1"}
    for job in (f"dify-{stack}-migrate", f"dify-{stack}-plugin-migrate"):
        assert _waits_for(run, job, point), job
    # The api and the plugin daemon (which migrates its own database on 1.13) wait too.
    deployment = run.named("kubernetes:apps/v1:Deployment", f"dify-{stack}-plugin-daemon")
    assert point.urn in deployment.dependency_urns
    # The list of points comes from the stack's own previous outputs.
    assert run.stack_reads == [f"dify-deploy/{stack}"]


def test_the_rds_snapshot_names_the_instance_and_the_release():
    run = cached_run("prod", {})
    [snapshot] = run.of_type(SNAPSHOT)
    instance = run.named("aws:rds/instance:Instance", "dify-prod-postgres-rds")
    assert snapshot.plain["dbInstanceIdentifier"] == "dify-prod-postgres-rds-287733d"
    assert instance.urn in snapshot.dependency_urns
    assert snapshot.plain["dbSnapshotIdentifier"] == "dify-prod-before-1-16-1-1"
    assert RDS_IDENTIFIER.match(snapshot.plain["dbSnapshotIdentifier"])
    assert snapshot.plain["tags"] == {"dify-release": DEFAULT_VERSION, "dify-restore-point": "1"}


def test_the_alicloud_backup_is_a_full_physical_set_after_the_databases():
    run = cached_run("alicloud", {})
    [backup] = run.of_type(BACKUP)
    assert backup.plain["backupMethod"] == "Physical" and backup.plain["backupType"] == "FullBackup"
    # Cloud-disk backup sets cannot be deleted by API: pruning drops them from the state only.
    assert backup.plain["removeFromState"] is True
    instance = run.named("alicloud:rds/instance:Instance", "dify-alicloud-postgres-rds")
    assert instance.urn in backup.dependency_urns
    for database in run.of_type("alicloud:rds/database:Database"):
        assert database.urn in backup.dependency_urns
    [point] = run.outputs["restorePoints"]
    assert point["backupId"].isdigit() and point["release"] == DEFAULT_VERSION


@pytest.mark.parametrize("stack", ("prod", "alicloud"))
def test_turning_restore_points_off_takes_none(stack):
    run = cached_run(stack, {"restorePoints": {"enabled": False}})
    assert run.of_type(RESTORE_POINT[stack]) == []
    assert run.outputs["restorePoints"] == []
    assert not any(r.typ == RESTORE_POINT[stack] for r in run.resources)


@pytest.mark.parametrize("stack", ("prod", "alicloud"))
def test_an_upgrade_takes_a_new_point_and_keeps_the_previous_ones(stack):
    lts, upgraded, again = _chain(stack, {"dify": {"version": LTS_VERSION}}, {}, {})
    assert [r.name for r in upgraded.of_type(RESTORE_POINT[stack])] == [
        f"dify-{stack}-postgres-before-{LTS_VERSION}-1", f"dify-{stack}-postgres-before-{DEFAULT_VERSION}-2"]
    steps = plan(lts, upgraded)
    assert [(t, n) for t, n, _ in steps["create"] if t == RESTORE_POINT[stack]] == [
        (RESTORE_POINT[stack], f"dify-{stack}-postgres-before-{DEFAULT_VERSION}-2")]
    assert stateful_losses(lts, upgraded) == []
    newest = upgraded.named(RESTORE_POINT[stack], f"dify-{stack}-postgres-before-{DEFAULT_VERSION}-2")
    assert _waits_for(upgraded, f"dify-{stack}-migrate", newest)
    # A run without a version change takes no new point and changes none.
    assert [r.name for r in again.of_type(RESTORE_POINT[stack])] == [
        r.name for r in upgraded.of_type(RESTORE_POINT[stack])]
    assert plan(upgraded, again) == {"replace": [], "delete": [], "create": []}


def test_points_beyond_keep_are_deleted_oldest_first():
    lts = {"dify": {"version": LTS_VERSION}}
    keep = {"restorePoints": {"keep": 2}}
    runs = _chain("prod", {**lts, **keep}, keep, {**lts, **keep}, keep)
    assert [p["ordinal"] for p in runs[-1].outputs["restorePoints"]] == [3, 4]
    assert [p["release"] for p in runs[-1].outputs["restorePoints"]] == [LTS_VERSION, DEFAULT_VERSION]
    deleted = [n for t, n, _ in plan(runs[-2], runs[-1])["delete"] if t == SNAPSHOT]
    assert deleted == [f"dify-prod-postgres-before-{DEFAULT_VERSION}-2"]
    # A re-upgrade to a release seen before takes a new point (ordinal 4), not the old one (2).
    assert runs[-1].named(SNAPSHOT, f"dify-prod-postgres-before-{DEFAULT_VERSION}-4")


def test_kept_points_follow_the_release_history():
    first = kept_points([], "1.13.3", take=True, keep=3, prefix="dify-prod")
    assert first == [RestorePoint(1, "1.13.3", "dify-prod")]
    same = kept_points([p.output() for p in first], "1.13.3", take=True, keep=3, prefix="dify-prod")
    assert same == first
    off = kept_points([p.output() for p in first], "1.16.1", take=False, keep=3, prefix="dify-prod")
    assert off == first, "turned off: no new point, the kept ones stay"
    # Outputs come back from the engine with numbers as floats, in any order.
    history = [{"ordinal": 2.0, "release": "1.16.1"}, {"ordinal": 1.0, "release": "1.13.3"}]
    assert [p.ordinal for p in kept_points(history, "1.17.1", True, 2, "dify-prod")] == [2, 3]
    assert kept_points([], "1.16.1", take=False, keep=3, prefix="dify-prod") == []


@pytest.mark.parametrize("release", ["1.17.0-rc.1", "1.16.1+build.7", "v2..0", "1_16_1"])
def test_names_follow_rds_identifier_rules(release):
    name = RestorePoint(12, release, "dify-prod").name
    assert RDS_IDENTIFIER.match(name), name
    assert RDS_IDENTIFIER.match(RestorePoint(1, release, "9-stack").name)


# -- self-hosted PostgreSQL: a dump into the object store ------------------------------------------

from components import images  # noqa: E402
from components.dump_restore_point import DUMP_SCRIPT, UPLOAD_SCRIPT  # noqa: E402
from stacks.loader import ConfigError  # noqa: E402
from tools.mocks import manifest, run_program  # noqa: E402

CONTAINER = "docker:index/container:Container"


def _job(run, name="dify-k8s-restore-point"):
    return manifest(run.named(JOB, name))


def test_the_cluster_dumps_both_databases_then_uploads_them_before_the_migrations():
    run = cached_run("k8s", {})
    job = run.named(JOB, "dify-k8s-restore-point")
    pod = _job(run)["spec"]["template"]["spec"]
    [dump], [upload] = pod["initContainers"], pod["containers"]
    assert dump["image"] == images.POSTGRES_PGVECTOR, "pg_dump of the server's own major version"
    assert dump["args"] == [DUMP_SCRIPT] and upload["args"] == [UPLOAD_SCRIPT]
    assert upload["image"] == images.AWS_CLI
    env = {c["name"]: {e["name"]: e for e in c["env"]} for c in (dump, upload)}
    assert env["restore-point-dump"]["PGHOST"]["value"] == "postgres"
    assert {k: env["restore-point-dump"][k]["value"] for k in ("DIFY_DB", "DIFY_PLUGIN_DB")} == {
        "DIFY_DB": "dify", "DIFY_PLUGIN_DB": "dify_plugin"}
    assert {k: env["restore-point"][k]["value"] for k in ("RELEASE", "KEEP", "BUCKET", "AWS_ENDPOINT_URL",
                                                          "S3_ADDRESSING_STYLE")} == {
        "RELEASE": DEFAULT_VERSION, "KEEP": "3", "BUCKET": "dify", "AWS_ENDPOINT_URL": "http://object-store:8333",
        "S3_ADDRESSING_STYLE": "path"}
    # Credentials only from Secrets, each step only its own.
    assert "valueFrom" in env["restore-point-dump"]["PGPASSWORD"]
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= {k for k, e in env["restore-point"].items()
                                                              if "valueFrom" in e}
    assert "PGPASSWORD" not in env["restore-point"] and "AWS_SECRET_ACCESS_KEY" not in env["restore-point-dump"]
    for container in (dump, upload):
        assert container["resources"]["limits"]["cpu"] and container["resources"]["limits"]["memory"]
        assert {"name": "restore-point-files", "mountPath": "/restore-point"} in container["volumeMounts"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["restartPolicy"] == "Never"
    # After the data services, before every migration.
    for service in ("postgres", "object-store"):
        assert run.named("kubernetes:apps/v1:StatefulSet", f"dify-k8s-{service}").urn in job.dependency_urns
    for migration in ("dify-k8s-migrate", "dify-k8s-plugin-migrate"):
        assert _waits_for(run, migration, job), migration


def test_turning_restore_points_off_removes_the_dump_job():
    run = cached_run("k8s", {"restorePoints": {"enabled": False}})
    assert "dify-k8s-restore-point" not in {r.name for r in run.of_type(JOB)}
    assert not any(r.name.startswith("dify-k8s-restore-point") for r in run.resources)


def test_an_upgrade_runs_a_new_dump_and_another_run_of_the_same_release_none():
    lts, upgraded, again = _chain("k8s", {"dify": {"version": LTS_VERSION}}, {}, {})
    replaced = {n: paths for t, n, paths in plan(lts, upgraded)["replace"]}
    assert "spec.template" in replaced["dify-k8s-restore-point"]
    assert {e["name"]: e.get("value") for e in _job(lts)["spec"]["template"]["spec"]["containers"][0]["env"]}[
        "RELEASE"] == LTS_VERSION
    assert stateful_losses(lts, upgraded) == []
    assert plan(upgraded, again) == {"replace": [], "delete": [], "create": []}


def test_keep_reaches_the_pruning_step():
    run = cached_run("k8s", {"restorePoints": {"keep": 7}})
    env = {e["name"]: e.get("value") for e in _job(run)["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KEEP"] == "7"


def test_an_object_store_without_keys_cannot_take_the_dump():
    with pytest.raises(ConfigError, match=r"restorePoints\.enabled"):
        run_program("k8s", overrides={"objectStorage": {"mode": "external", "kind": "s3", "bucket": "dify-files",
                                                        "useWorkloadIdentity": True}})


def test_docker_runs_the_dump_and_the_upload_to_completion_before_the_api():
    run = cached_run("dev", {})
    dump = run.named(CONTAINER, "dify-dev-restore-point-dump")
    upload = run.named(CONTAINER, "dify-dev-restore-point")
    api = run.named(CONTAINER, "dify-dev-api")
    for step in (dump, upload):
        assert step.plain["attach"] is True and step.plain["mustRun"] is False and step.plain["restart"] == "no"
        assert {"target": "/restore-point", "type": "volume", "source": "dify-dev-restore-point-files"} in \
            step.plain["mounts"]
    assert dump.plain["entrypoints"] == ["/bin/sh", "-c"] and dump.plain["command"] == [DUMP_SCRIPT]
    assert [n["name"] for n in dump.plain["networksAdvanced"]] == ["dify-dev-net-data-postgres"]
    assert [n["name"] for n in upload.plain["networksAdvanced"]] == ["dify-dev-net-data-object-store"]
    assert dump.urn in upload.dependency_urns and upload.urn in api.dependency_urns
    assert run.named(CONTAINER, "dify-dev-postgres").urn in dump.dependency_urns
    # The api (which migrates as it starts) is created only once the upload exited 0.
    assert {"label": "dify.after.restore-point", "value": "0"} in api.plain["labels"]
    assert {"label": "dify.after.restore-point-dump", "value": "0"} in upload.plain["labels"]


def test_docker_stops_before_the_api_when_the_restore_point_fails():
    with pytest.raises(Exception, match="restore-point exited with code 1"):
        run_program("dev", exit_codes={"dify-dev-restore-point": 1})


@pytest.mark.parametrize("overrides, key, hint", [
    ({"restorePoints": {"keep": 0}}, "restorePoints.keep", "greater than or equal to 1"),
    ({"restorePoints": {"keep": 51}}, "restorePoints.keep", "less than or equal to 50"),
    ({"restorePoints": {"keep": True}}, "restorePoints.keep", "give a number, not true"),
    ({"restorePoints": {"enabled": "maybe"}}, "restorePoints.enabled", "valid boolean"),
    ({"restorePoints": {"retain": 3}}, "restorePoints.retain", ""),
])
def test_wrong_restore_point_settings_name_the_key(overrides, key, hint):
    with pytest.raises(Exception) as raised:
        run_program("dev", overrides=overrides)
    assert f"{key}" in str(raised.value) and hint in str(raised.value), str(raised.value)
