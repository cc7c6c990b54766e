"""The release table and the catalog against upstream's own compose and env files, per release.

tests/fixtures/upstream/<version>.json holds, for each compose service of that release, the keys its
container receives (its `environment:` plus every key of its env files), the images, and the keys
upstream requires; each file names the commits it was read from. 1.13.x-lts-tip.json is the
lts/1.13.x branch's newest state (the same 1.13.3 images, with the env files backported).
"""

import base64
import json
from pathlib import Path

import pytest

from components.dify.releases import OPTIONAL_ENV, RELEASES
from components.images import NGINX, SQUID
from tools.mocks import run_program

FIXTURES = Path(__file__).parent / "fixtures" / "upstream"
CONTAINER = "docker:index/container:Container"
# Catalog service -> upstream compose service.
UPSTREAM = {
    "api": "api", "worker": "worker", "beat": "worker_beat", "web": "web", "sandbox": "sandbox",
    "plugin-daemon": "plugin_daemon", "ssrf-proxy": "ssrf_proxy", "nginx": "nginx",
    "api-websocket": "api_websocket", "agent-backend": "agent_backend", "local-sandbox": "local_sandbox",
    "agent-ssrf-proxy": "agent_ssrf_proxy",
}
# Keys the images' settings read that upstream's compose does not pass, checked at each release's
# commit: the api's api/configs/middleware/__init__.py (DB_EXTRAS) and
# api/configs/middleware/storage/amazon_s3_storage_config.py (S3_ADDRESS_STYLE); the plugin daemon's
# internal/types/app/config.go (DB_SSL_MODE, required, `oneof=disable require`; DB_MAX_OPEN_CONNS and
# DB_MAX_IDLE_CONNS, defaults 30 and 10; all since 0.5.3).
# And gunicorn, the api's server, reads GUNICORN_CMD_ARGS itself (its settings documentation).
API_SETTINGS = {"DB_EXTRAS", "S3_ADDRESS_STYLE"}
CODE_READS = {**{s: API_SETTINGS for s in ("worker", "beat", "api-websocket")},
              "api": API_SETTINGS | {"GUNICORN_CMD_ARGS"},
              "plugin-daemon": {"DB_SSL_MODE", "DB_MAX_OPEN_CONNS", "DB_MAX_IDLE_CONNS"}}
# Public development values in upstream's compose that must never be deployed.
UPSTREAM_DEFAULTS = {
    "difyai123456", "dify-sandbox", "QaHbTe77CtuXmsfyhR7+vRjI/+XbV1AaFy691iy+kGDv2Jvy0/eAh8Y1",
    "lYkiYYT6owG+71oLerGzA7GXCgOT++6ovaezWAjpCjf+Sjc3ZtU+qUEi", "dify-agent-run-token-for-dev-only",
    "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY",
}


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def upstream_keys(version: str, service: str) -> set[str]:
    names = [version] + (["1.13.x-lts-tip"] if version.startswith("1.13.") else [])
    return set().union(*(fixture(n)["services"].get(UPSTREAM[service], []) for n in names))


@pytest.fixture(scope="module", params=sorted(RELEASES))
def deployed(request):
    version = request.param
    run = run_program("dev", overrides={"dify": {"version": version}})
    envs = {c.name.removeprefix("dify-dev-"): dict(item.split("=", 1) for item in c.plain["envs"])
            for c in run.of_type(CONTAINER)}
    return version, run, envs


def test_every_release_in_the_table_has_its_upstream_fixture():
    for version in RELEASES:
        assert fixture(version)["dify_version"] == version
        commits = set(fixture(version)["sources"].values())
        assert commits and all(len(c) == 40 for c in commits), version


def test_image_tags_are_upstreams_own(deployed):
    version, _, _ = deployed
    upstream = fixture(version)["images"]
    for role, ref in RELEASES[version].images().items():
        assert upstream[role] == ref, (version, role)
    # Roles the release lacks are absent upstream too.
    for role in ("agent_backend", "local_sandbox"):
        assert (role in RELEASES[version].images()) == (upstream[role] is not None), (version, role)
    # Upstream runs squid and nginx at `latest`; here both are pinned.
    assert upstream["ssrf_proxy"] == "ubuntu/squid:latest" and not SQUID.endswith(":latest")
    assert upstream["nginx"] == "nginx:latest" and not NGINX.endswith(":latest")


def test_the_catalog_builds_exactly_the_services_the_release_has(deployed):
    version, _, envs = deployed
    upstream_services = set(fixture(version)["services"])
    for service in envs:
        if service in UPSTREAM:
            assert UPSTREAM[service] in upstream_services, (version, service)
    for service, name in UPSTREAM.items():
        if name in upstream_services:
            assert service in envs, (version, service)


def test_every_env_key_is_one_upstream_defines_for_that_service(deployed):
    version, _, envs = deployed
    for service, env in envs.items():
        if service not in UPSTREAM:
            continue
        unknown = sorted(set(env) - upstream_keys(version, service) - CODE_READS.get(service, set()))
        assert unknown == [], f"{version} {service} sets keys upstream does not define: {unknown}"


def test_every_key_upstream_requires_is_set(deployed):
    version, _, envs = deployed
    required = fixture(version)["required"]
    for service, env in envs.items():
        if service in UPSTREAM:
            missing = set(required.get(UPSTREAM[service], [])) - set(env)
            assert not missing, (version, service, missing)


def test_optional_keys_follow_the_release(deployed):
    version, _, envs = deployed
    release = RELEASES[version]
    for service, env in envs.items():
        for key in OPTIONAL_ENV & set(env):
            assert key in release.optional_env, (version, service, key)
            assert key in upstream_keys(version, service), (version, service, key)


def test_the_fixtures_catch_a_misspelt_or_misplaced_key():
    assert "PGVECTOR_PORT" in upstream_keys("1.16.1", "api")
    assert "PG_VECTOR_PORT" not in upstream_keys("1.16.1", "api")
    assert "SERVER_KEY" in upstream_keys("1.16.1", "plugin-daemon")
    assert "DIFY_AGENT_SHELLCTL_AUTH_TOKEN" in upstream_keys("1.16.1", "agent-backend")
    assert "DIFY_AGENT_LOCAL_SANDBOX_ENDPOINT" not in upstream_keys("1.16.1", "agent-backend")
    assert "SERVER_CONSOLE_API_URL" in upstream_keys("1.16.1", "web")
    assert "SERVER_CONSOLE_API_URL" not in upstream_keys("1.13.3", "web")


def test_agent_secrets_are_shared_only_where_upstream_requires(deployed):
    version, _, envs = deployed
    if "agent" not in RELEASES[version].features:
        assert not any(k.startswith(("AGENT_BACKEND_", "DIFY_AGENT_")) for env in envs.values() for k in env)
        return
    api, worker, backend = envs["api"], envs["worker"], envs["agent-backend"]
    sandbox, daemon = envs["local-sandbox"], envs["plugin-daemon"]
    assert api["AGENT_BACKEND_API_TOKEN"] == worker["AGENT_BACKEND_API_TOKEN"] == backend["DIFY_AGENT_API_TOKEN"]
    assert backend["DIFY_AGENT_INNER_API_KEY"] == api["INNER_API_KEY_FOR_PLUGIN"]
    assert backend["DIFY_AGENT_PLUGIN_DAEMON_API_KEY"] == daemon["SERVER_KEY"]
    assert backend["DIFY_AGENT_SHELLCTL_AUTH_TOKEN"] == sandbox["SHELLCTL_AUTH_TOKEN"]
    distinct = [backend[k] for k in ("DIFY_AGENT_API_TOKEN", "DIFY_AGENT_INNER_API_KEY",
                                     "DIFY_AGENT_SERVER_SECRET_KEY", "DIFY_AGENT_SHELLCTL_AUTH_TOKEN",
                                     "DIFY_AGENT_PLUGIN_DAEMON_API_KEY")] + [api["SECRET_KEY"]]
    assert len(set(distinct)) == len(distinct)
    assert not UPSTREAM_DEFAULTS & {v for env in envs.values() for v in env.values()}


def test_the_agent_server_key_has_the_exact_form_the_backend_demands(deployed):
    version, _, envs = deployed
    if "agent" not in RELEASES[version].features:
        return
    key = envs["agent-backend"]["DIFY_AGENT_SERVER_SECRET_KEY"]
    assert "=" not in key and "+" not in key and "/" not in key
    assert len(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))) == 32


def test_the_agent_backend_keeps_its_own_redis_database(deployed):
    version, _, envs = deployed
    if "agent" not in RELEASES[version].features:
        return
    url = envs["agent-backend"]["DIFY_AGENT_REDIS_URL"]
    assert url.startswith("redis://:") and url.endswith("@redis:6379/2")
    assert url.split("@")[0].split(":", 2)[2] == envs["api"]["REDIS_PASSWORD"]
    assert envs["api"]["REDIS_DB"] == "0" and envs["api"]["CELERY_BROKER_URL"].endswith("/1")
