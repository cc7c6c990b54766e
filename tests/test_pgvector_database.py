"""`vectorStore.pgvector.database`: pgvector in a database of its own on Dify's PostgreSQL server, under
mocks. Dify's env (the api and the worker only), the database made with the `vector` extension before the
migration on every backend (the single pod's init SQL and a Job for a data directory that predates it,
CloudNativePG's Database object, the RDS init Job, ApsaraDB's database resource and its Job), the restore
point's dump of it, the change plan and the refusals."""

from __future__ import annotations

import subprocess

import pytest

from components.aws.postgres import init_script as rds_init_script
from components.alicloud.postgres import init_script as apsaradb_init_script
from tests.change_plan import cached_run, stateful_losses
from tests.test_kubernetes import by_service, env_of, of_kind
from tests.test_vector_stores import NOT_USERS, USERS, assert_only_users_have_it
from tools.mocks import manifests, run_program

VECTORS = {"vectorStore": {"pgvector": {"database": "dify_vectors"}}}
HA = {"selfHosted": {"highAvailability": True}}


def single():
    return cached_run("k8s", VECTORS)


def job(run, name: str) -> dict:
    found = [m for m in of_kind(run, "Job") if f"-{name}-" in m["metadata"]["name"]]
    assert len(found) == 1, [m["metadata"]["name"] for m in of_kind(run, "Job")]
    return found[0]


def job_env(run, name: str, container: str) -> dict:
    spec = job(run, name)["spec"]["template"]["spec"]
    found = next(c for c in spec["containers"] + spec.get("initContainers", []) if c["name"] == container)
    return {e["name"]: e.get("value") for e in found["env"]}


def script(run, name: str) -> str:
    return job(run, name)["spec"]["template"]["spec"]["containers"][0]["args"][0]


def test_the_api_and_the_worker_keep_vectors_in_their_own_database():
    services = by_service(single())
    for service in USERS:
        env = env_of(services[service])
        assert env["PGVECTOR_DATABASE"]["value"] == "dify_vectors"
        assert env["DB_DATABASE"]["value"] == "dify"
        assert env["PGVECTOR_HOST"]["value"] == env["DB_HOST"]["value"]
    assert_only_users_have_it(services)
    assert set(NOT_USERS) & set(services)


def test_a_job_makes_it_on_the_single_pod_before_the_migration_new_or_existing_data_directory_alike():
    run = single()
    text = script(run, "db-init")
    assert 'CREATE DATABASE \\"$DIFY_VECTOR_DB\\"' in text and "CREATE EXTENSION IF NOT EXISTS vector" in text
    assert job_env(run, "db-init", "db-init")["DIFY_VECTOR_DB"] == "dify_vectors"
    jobs = {r.name: r for r in run.of_type("kubernetes:batch/v1:Job")}
    migrate = next(r for n, r in jobs.items() if n.endswith("-migrate"))
    init_job = next(r for n, r in jobs.items() if n.endswith("-db-init"))
    postgres = next(r for r in run.of_type("kubernetes:apps/v1:StatefulSet") if r.name.endswith("-postgres"))
    assert init_job.urn in migrate.dependency_urns, "the api migrates once the database exists"
    assert postgres.urn in init_job.dependency_urns
    restore_point = next(r for n, r in jobs.items() if n.endswith("-restore-point"))
    assert init_job.urn in restore_point.dependency_urns, "the restore point dumps it: it exists first"
    # The server's own init SQL (and so its pod) stays as it was: nothing restarts.
    before = cached_run("k8s", {})
    def files(of):
        return next(m for m in of_kind(of, "ConfigMap") if "-postgres-files-" in m["metadata"]["name"])["data"]
    assert files(before) == files(run)
    assert not [m for m in of_kind(before, "Job") if "-db-init-" in m["metadata"]["name"]]


def test_docker_runs_the_same_job():
    run = run_program("dev", overrides=VECTORS)
    init = next(c for c in run.of_type("docker:index/container:Container") if c.name.endswith("-db-init"))
    assert "DIFY_VECTOR_DB=dify_vectors" in init.plain["envs"]


def test_the_restore_point_dumps_it_too():
    env = job_env(single(), "restore-point", "restore-point-dump")
    assert (env["DIFY_DB"], env["DIFY_PLUGIN_DB"], env["DIFY_VECTOR_DB"]) == ("dify", "dify_plugin", "dify_vectors")
    assert job_env(single(), "restore-point", "restore-point")["DIFY_VECTOR_DB"] == "dify_vectors"
    assert "DIFY_VECTOR_DB" not in job_env(cached_run("k8s", {}), "restore-point", "restore-point-dump")


def test_cloudnativepg_declares_it_with_the_extension():
    run = cached_run("k8s", {**HA, **VECTORS})
    databases = {m["spec"]["name"]: m["spec"] for m in manifests(run) if m["kind"] == "Database"}
    assert set(databases) == {"dify", "dify_plugin", "dify_vectors"}
    assert databases["dify_vectors"]["extensions"] == [{"name": "vector", "ensure": "present"}]
    assert databases["dify_vectors"]["databaseReclaimPolicy"] == "retain"
    assert env_of(by_service(run)["worker"])["PGVECTOR_DATABASE"]["value"] == "dify_vectors"


def test_rds_gets_it_from_the_init_job():
    run = cached_run("prod", VECTORS)
    text = script(run, "db-init")
    assert 'CREATE DATABASE \\"$DIFY_VECTOR_DB\\"' in text
    assert job_env(run, "db-init", "db-init")["DIFY_VECTOR_DB"] == "dify_vectors"
    assert env_of(by_service(run)["api"])["PGVECTOR_DATABASE"]["value"] == "dify_vectors"


def test_apsaradb_gets_a_database_resource_the_app_account_owns_and_the_extension_from_the_job():
    run = cached_run("alicloud", VECTORS)
    databases = {r.plain["dataBaseName"]: r for r in run.of_type("alicloud:rds/database:Database")}
    assert set(databases) == {"dify", "dify_plugin", "dify_vectors"}
    assert databases["dify_vectors"].options.get("protect") is True
    privilege = run.of_type("alicloud:rds/accountPrivilege:AccountPrivilege")[0]
    assert databases["dify_vectors"].urn in privilege.dependency_urns
    text = script(run, "db-init")
    assert 'CREATE DATABASE' not in text.split("DIFY_VECTOR_DB", 1)[1], "the resource makes it"
    assert '-d "$DIFY_VECTOR_DB" -c "CREATE EXTENSION IF NOT EXISTS vector"' in text
    assert job_env(run, "db-init", "db-init")["DIFY_VECTOR_DB"] == "dify_vectors"


@pytest.mark.parametrize("render", [rds_init_script, apsaradb_init_script])
def test_the_init_scripts_are_valid_shell_with_and_without_it(render):
    for separate in (False, True):
        subprocess.run(["sh", "-n", "-c", render(separate)], check=True)
    assert "DIFY_VECTOR_DB" not in render(False)


def test_adding_it_loses_nothing():
    for stack in ("k8s", "prod", "alicloud"):
        assert stateful_losses(cached_run(stack, {}), cached_run(stack, VECTORS)) == [], stack


def _rejected(overrides: dict) -> str:
    with pytest.raises(Exception) as raised:
        run_program("k8s", overrides=overrides)
    return str(raised.value)


@pytest.mark.parametrize(("overrides", "hint"), [
    ({"vectorStore": {"kind": "external", "engine": "qdrant", "url": "https://qdrant.example.com:6333",
                      "pgvector": {"database": "dify_vectors"}}}, "applies to vectorStore.kind pgvector"),
    ({"vectorStore": {"pgvector": {"database": "dify_plugin"}}}, "postgres.pluginDatabase"),
    ({"vectorStore": {"pgvector": {"database": "Dify-Vectors"}}}, "not a PostgreSQL identifier"),
    ({"vectorStore": {"pgvector": {"datbase": "dify_vectors"}}}, "vectorStore.pgvector.datbase"),
])
def test_wrong_pgvector_config_is_rejected_naming_the_key(overrides, hint):
    message = _rejected(overrides)
    assert "vectorStore.pgvector" in message and hint in message
