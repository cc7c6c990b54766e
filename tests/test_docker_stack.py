"""The dev stack (Docker target) as the program declares it under mocks."""

import pytest

from tools.mocks import is_secret, run_program

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
DIFY = ["api", "worker", "beat", "web", "sandbox", "plugin-daemon", "ssrf-proxy", "nginx",
        "api-websocket", "agent-backend", "local-sandbox", "agent-ssrf-proxy"]
LTS = {"dify": {"version": "1.13.3"}}
LTS_DIFY = DIFY[:8]
DATA = ["postgres", "redis", "object-store"]
# The restore point before the migration: the dump, then its upload (containers that run to completion).
RESTORE_POINT = ["restore-point-dump", "restore-point"]
PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEfake\n-----END PRIVATE KEY-----\n"


@pytest.fixture(scope="module")
def dev():
    return run_program("dev")


def container(run, service, stack="dev"):
    return run.named(CONTAINER, f"dify-{stack}-{service}")


def networks_of(run, service):
    return {n["name"].removeprefix("dify-dev-net-") for n in container(run, service).plain["networksAdvanced"]}


def test_all_services_run_as_containers(dev):
    names = {c.name for c in dev.of_type(CONTAINER)}
    assert names == {f"dify-dev-{s}" for s in DIFY + DATA + RESTORE_POINT}


def test_the_lts_release_has_neither_agent_nor_collaboration_services():
    run = run_program("dev", overrides=LTS)
    assert {c.name for c in run.of_type(CONTAINER)} == {f"dify-dev-{s}" for s in LTS_DIFY + DATA + RESTORE_POINT}
    assert not [n for n in run.of_type(NETWORK) if "agent" in n.inputs["name"] or "websocket" in n.inputs["name"]]
    assert run.outputs["difyVersion"] == "1.13.3"


def test_networks_follow_the_contract(dev):
    """The Kubernetes matrix (tests/test_isolation.py) as far as Docker networks can hold it: a network
    joins containers on every port and both ways, and the data users share each data network."""
    from tests.test_isolation import CALLS, DATA_USERS, INTERNET

    internal = {n.inputs["name"].removeprefix("dify-dev-net-"): n.inputs.get("internal", False)
                for n in dev.of_type(NETWORK)}
    subnets = [n.inputs["ipamConfigs"][0]["subnet"] for n in dev.of_type(NETWORK)]
    assert len(set(subnets)) == len(subnets) and all(s.endswith("/28") for s in subnets)
    names = DIFY + DATA
    nets = {name: networks_of(dev, name) for name in names}
    for name in names:
        for other in names:
            if name == other:
                continue
            shares = bool(nets[name] & nets[other])
            called = any(t == other for t, _ in CALLS[name]) or any(t == name for t, _ in CALLS[other])
            data = (other in DATA_USERS and name in DATA_USERS[other]) or (
                name in DATA_USERS and other in DATA_USERS[name])
            data_peers = any(name in users and other in users for users in DATA_USERS.values())
            assert shares == (called or data or data_peers), (name, other, nets[name] & nets[other])
        out = {n for n in nets[name] if not internal[n]}
        assert bool(out) == (name in INTERNET or name == "nginx"), (name, out)
        assert all(n in (f"egress-{name}", "entry") for n in out), (name, out)
    assert nets["nginx"] >= {"entry"} and not any("entry" in nets[n] for n in names if n != "nginx")
    assert nets["sandbox"] == {"api--sandbox", "sandbox--worker", "sandbox--ssrf-proxy"}
    assert nets["local-sandbox"] == {"agent-backend--local-sandbox", "agent-ssrf-proxy--local-sandbox"}


def test_every_container_is_reachable_by_its_service_name(dev):
    for service in DIFY + DATA:
        for attachment in container(dev, service).plain["networksAdvanced"]:
            assert attachment["aliases"] == [service]


def test_state_lives_in_named_volumes(dev):
    volumes = {v.inputs["name"] for v in dev.of_type(VOLUME)}
    assert volumes == {
        "dify-dev-postgres-data", "dify-dev-redis-data", "dify-dev-object-store-data",
        "dify-dev-plugin-daemon-storage", "dify-dev-sandbox-dependencies", "dify-dev-restore-point-files",
    }
    assert set(dev.outputs["stateVolumes"]) == volumes
    mounts = {s: [(m["source"], m["target"]) for m in container(dev, s).plain.get("mounts", [])]
              for s in DIFY + DATA}
    assert mounts["postgres"] == [("dify-dev-postgres-data", "/var/lib/postgresql/data")]
    assert mounts["redis"] == [("dify-dev-redis-data", "/data")]
    assert mounts["object-store"] == [("dify-dev-object-store-data", "/data")]
    assert mounts["plugin-daemon"] == [("dify-dev-plugin-daemon-storage", "/app/storage")]
    assert mounts["api"] == mounts["worker"] == [], "api/worker keep files in the object store"


def test_restart_policies_and_health_checks(dev):
    for c in dev.of_type(CONTAINER):
        run_once = c.name.removeprefix("dify-dev-") in RESTORE_POINT
        assert c.inputs["restart"] == ("no" if run_once else "unless-stopped"), c.name
    for service in ["api", "web", "sandbox", "plugin-daemon", "ssrf-proxy", "nginx"] + DATA:
        c = container(dev, service)
        assert c.inputs["healthcheck"]["tests"][0] in ("CMD", "CMD-SHELL"), service
        assert c.inputs["wait"] is True, f"{service} must be healthy before dependants start"
    assert container(dev, "api").plain["healthcheck"]["tests"][-1] == "http://127.0.0.1:5001/health"
    assert "'http://127.0.0.1:5002/health/check'" in container(dev, "plugin-daemon").plain["healthcheck"]["tests"][-1]


def test_start_order(dev):
    def deps(service):
        return container(dev, service).depends_on

    for service in ["api", "worker", "beat", "plugin-daemon"]:
        assert {f"dify-dev-{d}" for d in DATA} <= deps(service), service
    assert "dify-dev-api" in deps("worker") and "dify-dev-api" in deps("beat")
    assert {"dify-dev-api", "dify-dev-web", "dify-dev-plugin-daemon"} <= deps("nginx")
    assert "dify-dev-ssrf-proxy" in deps("sandbox")


def test_postgres_creates_both_databases_and_pgvector(dev):
    pg = container(dev, "postgres").plain
    init = {u["file"]: u["content"] for u in pg["uploads"]}["/docker-entrypoint-initdb.d/10-dify.sql"]
    assert 'CREATE DATABASE "dify_plugin";' in init
    assert '\\connect "dify"' in init and "CREATE EXTENSION IF NOT EXISTS vector;" in init
    health = pg["healthcheck"]["tests"][1]
    assert "pg_isready" in health and "extname='vector'" in health and "-d dify_plugin" in health


def test_redis_requires_its_password(dev):
    redis = container(dev, "redis")
    assert "docker-entrypoint.sh redis-server" in " ".join(redis.plain["command"]), "keeps the image's user drop"
    assert "--requirepass" in " ".join(redis.plain["command"])
    assert "$REDIS_PASSWORD" in " ".join(redis.plain["command"]), "the password stays out of the command line"
    assert is_secret(redis.inputs["envs"])


def test_object_store_has_its_buckets_and_credentials(dev):
    store = container(dev, "object-store")
    uploads = store.plain["uploads"]
    assert is_secret(store.inputs["uploads"]), "the S3 identities file holds the secret key"
    files = {u["file"]: u["content"] for u in uploads}
    api = dict(item.split("=", 1) for item in container(dev, "api").plain["envs"])
    assert api["S3_SECRET_KEY"] in files["/etc/seaweedfs/s3.json"]
    assert "s3.bucket.create -name dify\n" in files["/etc/seaweedfs/start.sh"].replace('" |', "\n")
    assert "/buckets/dify-plugins/" in store.plain["healthcheck"]["tests"][1]


def test_only_nginx_publishes_ports(dev):
    for c in dev.of_type(CONTAINER):
        if c.name != "dify-dev-nginx":
            assert not c.inputs.get("ports"), c.name
    assert container(dev, "nginx").plain["ports"] == [{"internal": 8080, "external": 80, "ip": "0.0.0.0"}]
    run = run_program("dev", overrides={"docker": {"httpPort": 8080, "bindAddress": "127.0.0.1"}})
    assert container(run, "nginx").plain["ports"] == [{"internal": 8080, "external": 8080, "ip": "127.0.0.1"}]
    assert run.outputs["difyUrl"] == "http://localhost:8080"


def test_images_are_pulled_by_pinned_tag_and_kept(dev):
    images = dev.of_type("docker:index/remoteImage:RemoteImage")
    # api (api, worker, beat, websocket), web, sandbox, plugin daemon, agent backend, local sandbox,
    # squid, nginx, postgres (also the restore point's dump), redis, the object store, the AWS CLI.
    assert len(images) == 12
    for image in images:
        assert image.inputs["keepLocally"] is True
        assert not image.inputs["name"].endswith(":latest")


def test_everything_uses_the_configured_docker_host():
    run = run_program("dev", overrides={"docker": {"host": "ssh://deploy@dify.internal", "sshOpts": ["-p", "2222"]}})
    provider = run.named("pulumi:providers:docker", "dify-dev-host")
    assert provider.inputs["host"] == "ssh://deploy@dify.internal"
    assert run.outputs["difyUrl"] == "http://dify.internal"
    for c in run.of_type(CONTAINER):
        assert "dify-dev-host" in c.provider


def test_registry_mirror_prefixes_every_image():
    run = run_program("dev", overrides={"registry": {"mirror": "docker.m.daocloud.io"}})
    refs = {i.inputs["name"] for i in run.of_type("docker:index/remoteImage:RemoteImage")}
    assert "docker.m.daocloud.io/langgenius/dify-api:1.16.1" in refs
    assert "docker.m.daocloud.io/library/nginx:1.30.5-alpine" in refs
    assert all(r.startswith("docker.m.daocloud.io/") for r in refs)


def test_tls_serves_https_with_the_given_certificate():
    run = run_program("dev", overrides={"domain": "dify.example.com",
                                        "docker": {"tls": {"certificate": PEM_CERT, "key": PEM_KEY}}},
                      secret_keys=("docker",))
    nginx = container(run, "nginx")
    assert is_secret(nginx.inputs["uploads"])
    files = {u["file"]: u["content"] for u in nginx.plain["uploads"]}
    assert files["/etc/nginx/tls/tls.crt"] == PEM_CERT and files["/etc/nginx/tls/tls.key"] == PEM_KEY
    assert {p["internal"] for p in nginx.plain["ports"]} == {8080, 8443}
    assert run.outputs["difyUrl"] == "https://dify.example.com"


def test_external_data_services_replace_the_self_hosted_ones():
    run = run_program("dev", overrides={
        "postgres": {"mode": "external", "host": "pg.internal", "port": 5433, "password": "pg-secret-1"},
        "redis": {"mode": "external", "host": "redis.internal", "password": "p@ss/word", "useTls": True},
        "objectStorage": {"mode": "external", "kind": "s3-compatible", "bucket": "dify-files",
                          "endpoint": "https://s3.internal", "accessKey": "AK", "secretKey": "SK"},
    }, secret_keys=("postgres", "redis", "objectStorage"))
    names = {c.name for c in run.of_type(CONTAINER)}
    assert not names & {f"dify-dev-{d}" for d in DATA}
    api = dict(item.split("=", 1) for item in container(run, "api").plain["envs"])
    assert (api["DB_HOST"], api["DB_PORT"], api["PGVECTOR_PORT"]) == ("pg.internal", "5433", "5433")
    assert api["CELERY_BROKER_URL"] == "rediss://:p%40ss%2Fword@redis.internal:6379/1?ssl_cert_reqs=required"
    assert api["REDIS_USE_SSL"] == "true" and api["S3_BUCKET_NAME"] == "dify-files"
    assert not {"dify-dev-postgres", "dify-dev-redis"} & container(run, "api").depends_on
    assert run.of_type(VOLUME) and "dify-dev-postgres-data" not in {v.name for v in run.of_type(VOLUME)}


def test_outputs(dev):
    assert dev.outputs["difyUrl"] == "http://localhost"
    assert dev.outputs["installUrl"] == "http://localhost/install"
    assert dev.outputs["internalEndpoints"] == {
        "postgres": "postgres:5432", "redis": "redis:6379", "object-store": "object-store:8333",
        "api": "api:5001", "web": "web:3000", "sandbox": "sandbox:8194", "plugin-daemon": "plugin-daemon:5002",
        "ssrf-proxy": "ssrf-proxy:3128", "nginx": "nginx:8080", "api-websocket": "api-websocket:5001",
        "agent-backend": "agent-backend:5050", "local-sandbox": "local-sandbox:5004",
        "agent-ssrf-proxy": "agent-ssrf-proxy:3128",
    }


def test_volumes_survive_destroy_unless_asked(dev):
    assert all(v.options["retainOnDelete"] for v in dev.of_type(VOLUME))
    run = run_program("dev", overrides={"docker": {"keepVolumesOnDestroy": False}})
    assert not any(v.options["retainOnDelete"] for v in run.of_type(VOLUME))


def test_preview_with_unknown_values_declares_the_same_containers():
    run = run_program("dev", preview=True)
    assert {c.name for c in run.of_type(CONTAINER)} == {f"dify-dev-{s}" for s in DIFY + DATA + RESTORE_POINT}
