"""The PostgreSQL connection budget: Dify's processes at their replica maximums against max_connections."""

import pytest

from stacks import budget
from stacks.config import StackConfig
from tools.mocks import PROJECT, manifest, run_program, stack_config

EXTERNAL_PG = {"mode": "external", "host": "pg.internal", "password": "pg-secret-1"}


def config_of(stack, **overrides):
    config, _ = stack_config(stack)
    data = {key.removeprefix(f"{PROJECT}:"): value for key, value in config.items()}
    return StackConfig.model_validate({**data, **overrides})


@pytest.mark.parametrize("stack", ["dev", "k8s", "prod", "alicloud"])
def test_the_example_stacks_fit_their_database(stack):
    assert budget.budget(config_of(stack)).fits


def test_rds_limits_follow_the_instance_class_memory():
    assert budget.rds_max_connections("db.t4g.medium") == 405
    assert budget.rds_max_connections("db.m7g.xlarge") == 1622
    assert budget.rds_max_connections("db.r7g.large") == 1622
    assert budget.rds_max_connections("db.r6g.16xlarge") == 5000
    assert budget.rds_max_connections("db.x2g.large") is None


@pytest.mark.parametrize(("stack", "overrides", "key"), [
    ("prod", {"aws": {"region": "us-east-1", "hostedZone": "example.com", "rdsInstanceClass": "db.t4g.medium"}},
     "aws.rdsInstanceClass"),
    ("k8s", {"size": "production", "postgres": {**EXTERNAL_PG, "maxConnections": 200},
             "redis": {"mode": "external", "host": "r.internal", "password": "r-secret-1"},
             "objectStorage": {"mode": "external", "kind": "s3", "bucket": "dify-files", "accessKey": "AK",
                               "secretKey": "SK"}}, "postgres.maxConnections"),
    ("k8s", {"size": "production", "kubernetes": {"allowSelfHostedDataInProduction": True}},
     "postgres.maxConnections"),
])
def test_a_budget_that_does_not_fit_is_a_config_error_naming_the_key(stack, overrides, key):
    secret = tuple(k for k in ("postgres", "redis", "objectStorage") if k in overrides)
    with pytest.raises(Exception) as raised:
        run_program(stack, overrides=overrides, secret_keys=secret)
    message = str(raised.value)
    assert f"{PROJECT}:{key}" in message and "PostgreSQL connections" in message, message
    assert "pg-secret-1" not in message


def test_the_budget_counts_what_the_pods_are_configured_to_open():
    run = run_program("prod")
    pods = {}
    for r in run.of_type("kubernetes:apps/v1:Deployment"):
        m = manifest(r)
        env = {e["name"]: e.get("value") for e in m["spec"]["template"]["spec"]["containers"][0]["env"]}
        pods[m["metadata"]["name"]] = env
    api, worker, daemon = pods["api"], pods["worker-workflow"], pods["plugin-daemon"]
    per_process = sum(int(api[k]) for k in ("SQLALCHEMY_POOL_SIZE", "SQLALCHEMY_MAX_OVERFLOW",
                                            "PGVECTOR_MAX_CONNECTION"))
    needed = budget.needed_connections(config_of("prod"))
    # api: 10 replicas at the HPA's maximum, one more during a rollout.
    assert needed["api"] == 11 * int(api["SERVER_WORKER_AMOUNT"]) * per_process
    # The workflow pool: 10 replicas at most, 16 tasks each, more than its pools hold (so all of them).
    assert needed["worker-workflow"] == 11 * per_process
    assert needed["plugin-daemon"] == 3 * int(daemon["DB_MAX_OPEN_CONNS"])
    assert api["SERVER_WORKER_AMOUNT"] == "2" and worker["CELERY_WORKER_AMOUNT"] == "16"
    assert api["SQLALCHEMY_POOL_PRE_PING"] == "true"


def test_self_hosted_max_connections_is_the_servers_setting():
    run = run_program("k8s", overrides={"postgres": {"maxConnections": 500}})
    postgres = manifest(run.named("kubernetes:apps/v1:StatefulSet", "dify-k8s-postgres"))
    assert "max_connections=500" in postgres["spec"]["template"]["spec"]["containers"][0]["args"]
