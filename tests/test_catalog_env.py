"""The catalog against upstream's compose file: names, shared secrets, and secret handling."""

import json

import pytest

from components.dify.releases import DEFAULT_VERSION, RELEASES
from tools.mocks import is_secret, run_program

CONTAINER = "docker:index/container:Container"


@pytest.fixture(scope="module")
def dev():
    return run_program("dev")


def env_of(run, service):
    container = run.named(CONTAINER, f"dify-dev-{service}")
    return dict(item.split("=", 1) for item in container.plain["envs"])


def test_shared_secrets_are_equal_where_upstream_requires(dev):
    api, worker, beat = env_of(dev, "api"), env_of(dev, "worker"), env_of(dev, "beat")
    daemon, sandbox = env_of(dev, "plugin-daemon"), env_of(dev, "sandbox")
    assert api["SECRET_KEY"] == worker["SECRET_KEY"] == beat["SECRET_KEY"]
    assert api["PLUGIN_DAEMON_KEY"] == worker["PLUGIN_DAEMON_KEY"] == daemon["SERVER_KEY"]
    assert api["INNER_API_KEY_FOR_PLUGIN"] == daemon["DIFY_INNER_API_KEY"]
    assert api["CODE_EXECUTION_API_KEY"] == worker["CODE_EXECUTION_API_KEY"] == sandbox["API_KEY"]
    assert f":{api['REDIS_PASSWORD']}@" in api["CELERY_BROKER_URL"]
    assert api["DB_PASSWORD"] == api["PGVECTOR_PASSWORD"] == daemon["DB_PASSWORD"]
    postgres, redis = env_of(dev, "postgres"), env_of(dev, "redis")
    assert api["DB_PASSWORD"] == postgres["POSTGRES_PASSWORD"]
    assert api["REDIS_PASSWORD"] == redis["REDIS_PASSWORD"] == daemon["REDIS_PASSWORD"]


def test_each_secret_has_its_own_value(dev):
    api = env_of(dev, "api")
    values = [api[k] for k in ("SECRET_KEY", "PLUGIN_DAEMON_KEY", "INNER_API_KEY_FOR_PLUGIN",
                               "CODE_EXECUTION_API_KEY", "DB_PASSWORD", "REDIS_PASSWORD", "S3_SECRET_KEY")]
    assert len(set(values)) == len(values)
    assert all(len(v) >= 16 for v in values)


def test_secrets_come_from_random_passwords_not_defaults(dev):
    passwords = dev.of_type("random:index/randomPassword:RandomPassword")
    assert {p.name for p in passwords} >= {
        "dify-dev-secrets-secret-key", "dify-dev-secrets-plugin-daemon-key",
        "dify-dev-secrets-inner-api-key", "dify-dev-secrets-sandbox-api-key",
        "dify-dev-postgres-password", "dify-dev-redis-password",
    }
    for p in passwords:
        assert p.inputs["special"] is False and p.inputs["length"] >= 20
    upstream_defaults = {"difyai123456", "dify-sandbox", "QaHbTe77CtuXmsfyhR7+vRjI/+XbV1AaFy691iy+kGDv2Jvy0/eAh8Y1"}
    for container in dev.of_type(CONTAINER):
        assert not upstream_defaults & set("".join(container.plain["envs"]).split("="))


def test_container_env_holding_secrets_is_secret(dev):
    for container in dev.of_type(CONTAINER):
        env = dict(item.split("=", 1) for item in container.plain["envs"])
        holds_secret = any(k.endswith(("PASSWORD", "_KEY", "BROKER_URL", "AUTH")) for k in env)
        if holds_secret:
            assert is_secret(container.inputs["envs"]), container.name


def test_stack_outputs_hold_no_secret(dev):
    text = json.dumps(dev.outputs)
    for secret in env_of(dev, "api").values():
        if len(secret) > 16 and secret.endswith("X9"):
            assert secret not in text


def test_api_worker_beat_share_one_image_and_sidecars_are_pinned(dev):
    images = {s: dev.named(CONTAINER, f"dify-dev-{s}").inputs["image"] for s in ("api", "worker", "beat")}
    assert len(set(images.values())) == 1
    refs = {r.inputs["name"] for r in dev.of_type("docker:index/remoteImage:RemoteImage")}
    assert set(RELEASES[DEFAULT_VERSION].images().values()) <= refs
    for ref in refs:
        tag = ref.rsplit(":", 1)[1]
        assert tag != "latest" and any(ch.isdigit() for ch in tag), ref


def test_only_the_api_migrates(dev):
    assert env_of(dev, "api")["MIGRATION_ENABLED"] == "true"
    assert env_of(dev, "worker")["MIGRATION_ENABLED"] == "false"
    assert env_of(dev, "beat")["MIGRATION_ENABLED"] == "false"
    assert [env_of(dev, s)["MODE"] for s in ("api", "worker", "beat")] == ["api", "worker", "beat"]


def test_wiring_between_services(dev):
    api, daemon, sandbox = env_of(dev, "api"), env_of(dev, "plugin-daemon"), env_of(dev, "sandbox")
    assert api["PLUGIN_DAEMON_URL"] == "http://plugin-daemon:5002"
    assert api["CODE_EXECUTION_ENDPOINT"] == "http://sandbox:8194"
    assert api["SSRF_PROXY_HTTP_URL"] == api["SSRF_PROXY_HTTPS_URL"] == "http://ssrf-proxy:3128"
    assert sandbox["HTTP_PROXY"] == sandbox["HTTPS_PROXY"] == "http://ssrf-proxy:3128"
    assert daemon["DIFY_INNER_API_URL"] == "http://api:5001"
    assert daemon["DB_DATABASE"] == "dify_plugin" and api["DB_DATABASE"] == "dify"
    assert api["VECTOR_STORE"] == "pgvector" and api["PGVECTOR_PORT"] == "5432"
    assert api["STORAGE_TYPE"] == "s3" and api["S3_ENDPOINT"] == "http://object-store:8333"
    assert daemon["PLUGIN_STORAGE_TYPE"] == "aws_s3" and daemon["S3_USE_AWS"] == "false"
    assert daemon["S3_USE_PATH_STYLE"] == "true" and daemon["PLUGIN_STORAGE_OSS_BUCKET"] == "dify-plugins"
    assert api["S3_BUCKET_NAME"] == "dify"
    assert api["CELERY_BROKER_URL"].startswith("redis://") and api["CELERY_BROKER_URL"].endswith("@redis:6379/1")


def test_domain_sets_public_urls():
    run = run_program("dev", overrides={"domain": "dify.example.com"})
    api = env_of(run, "api")
    for key in ("CONSOLE_API_URL", "CONSOLE_WEB_URL", "SERVICE_API_URL", "APP_API_URL", "APP_WEB_URL", "FILES_URL"):
        assert api[key] == "http://dify.example.com"
    assert env_of(run, "web")["CONSOLE_API_URL"] == "http://dify.example.com"
    assert run.outputs["installUrl"] == "http://dify.example.com/install"


def test_without_domain_the_web_app_uses_its_own_origin(dev):
    assert "CONSOLE_API_URL" not in env_of(dev, "web")
    assert env_of(dev, "api")["FILES_URL"] == "http://localhost"


def test_extra_env_and_settings_reach_the_services():
    run = run_program("dev", overrides={"dify": {
        "logLevel": "DEBUG", "uploadFileSizeLimitMb": 50, "pipMirrorUrl": "https://pypi.tuna.tsinghua.edu.cn/simple",
        "extraEnv": {"api": {"SENTRY_DSN": "https://sentry.example.com/1"}, "pluginDaemon": {"PLUGIN_MAX_EXECUTION_TIMEOUT": "900"}},
    }})
    api = env_of(run, "api")
    assert api["LOG_LEVEL"] == "DEBUG" and api["UPLOAD_FILE_SIZE_LIMIT"] == "50"
    assert api["SENTRY_DSN"] == "https://sentry.example.com/1"
    assert env_of(run, "plugin-daemon")["PLUGIN_MAX_EXECUTION_TIMEOUT"] == "900"
    assert env_of(run, "sandbox")["PIP_MIRROR_URL"] == "https://pypi.tuna.tsinghua.edu.cn/simple"
    assert "SENTRY_DSN" not in env_of(run, "worker")


def test_extra_env_cannot_override_a_secret():
    with pytest.raises(Exception) as raised:
        run_program("dev", overrides={"dify": {"extraEnv": {"api": {"DB_PASSWORD": "plain"}}}})
    assert "dify.extraEnv.api" in str(raised.value) and "DB_PASSWORD" in str(raised.value)


CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(("mode", "daemon_mode"), [
    ("disable", "disable"), ("prefer", "disable"), ("require", "require"), ("verify-full", "require"),
])
def test_postgres_tls_reaches_the_api_as_libpq_options_and_the_daemon_as_its_two_modes(mode, daemon_mode):
    run = run_program("dev", overrides={"postgres": {
        "mode": "external", "host": "pg.internal", "password": "pg-secret-1", "sslMode": mode,
        **({"caCertificate": CA_PEM} if mode.startswith("verify") else {})}}, secret_keys=("postgres",))
    api, daemon = env_of(run, "api"), env_of(run, "plugin-daemon")
    assert env_of(run, "plugin-daemon")["DB_SSL_MODE"] == daemon_mode
    assert "DB_EXTRAS" not in daemon
    if mode.startswith("verify"):
        assert api["DB_EXTRAS"] == f"sslmode={mode}&sslrootcert=/etc/dify/tls/postgres-ca.crt"
        uploads = {u["file"]: u["content"] for u in run.named(CONTAINER, "dify-dev-api").plain["uploads"]}
        assert uploads["/etc/dify/tls/postgres-ca.crt"] == CA_PEM
    else:
        assert api["DB_EXTRAS"] == f"sslmode={mode}"
    assert env_of(run, "worker")["DB_EXTRAS"] == api["DB_EXTRAS"] == env_of(run, "beat")["DB_EXTRAS"]


def test_a_verifying_postgres_mode_needs_the_ca():
    with pytest.raises(Exception) as raised:
        run_program("dev", overrides={"postgres": {"mode": "external", "host": "pg.internal",
                                                   "password": "pg-secret-1", "sslMode": "verify-full"}},
                    secret_keys=("postgres",))
    assert "postgres.caCertificate" in str(raised.value)


def test_redis_tls_verification_agrees_between_the_cache_and_the_broker():
    run = run_program("dev", overrides={"redis": {"mode": "external", "host": "redis.internal",
                                                  "password": "r-secret-1", "useTls": True}},
                      secret_keys=("redis",))
    api = env_of(run, "api")
    assert api["REDIS_USE_SSL"] == api["BROKER_USE_SSL"] == "true"
    assert api["REDIS_SSL_CERT_REQS"] == "CERT_REQUIRED"
    assert api["CELERY_BROKER_URL"].startswith("rediss://") and api["CELERY_BROKER_URL"].endswith(
        "?ssl_cert_reqs=required")
    assert env_of(run, "agent-backend")["DIFY_AGENT_REDIS_URL"].startswith("rediss://")
    assert "REDIS_SSL_CERT_REQS" not in env_of(run_program("dev"), "api")


def test_plugin_endpoints_and_s3_addressing(dev):
    api = env_of(dev, "api")
    assert api["ENDPOINT_URL_TEMPLATE"] == "http://localhost/e/{hook_id}"
    assert api["S3_ADDRESS_STYLE"] == "path", "the self-hosted store serves buckets by path"
    run = run_program("dev", overrides={"domain": "dify.example.com"})
    assert env_of(run, "api")["ENDPOINT_URL_TEMPLATE"] == "http://dify.example.com/e/{hook_id}"


def test_web_and_collaboration_settings_follow_the_release_and_the_features(dev):
    web = env_of(dev, "web")
    assert web["SERVER_CONSOLE_API_URL"] == "http://api:5001"
    assert web["NEXT_PUBLIC_SOCKET_URL"] == "ws://localhost"
    assert web["NEXT_PUBLIC_ENABLE_AGENT_V2"] == "true" and web["ENABLE_COLLABORATION_MODE"] == "true"
    assert env_of(dev, "api")["ENABLE_COLLABORATION_MODE"] == "true"
    ws = env_of(dev, "api-websocket")
    assert ws["SERVER_WORKER_CLASS"] == "geventwebsocket.gunicorn.workers.GeventWebSocketWorker"
    assert env_of(dev, "api")["SERVER_WORKER_CLASS"] == "gevent"
    assert ws["SECRET_KEY"] == env_of(dev, "api")["SECRET_KEY"]

    off = run_program("dev", overrides={"dify": {"features": {"agent": False, "collaboration": False}}})
    names = {c.name for c in off.of_type(CONTAINER)}
    assert not names & {"dify-dev-api-websocket", "dify-dev-agent-backend", "dify-dev-local-sandbox",
                        "dify-dev-agent-ssrf-proxy"}
    web = env_of(off, "web")
    assert web["NEXT_PUBLIC_ENABLE_AGENT_V2"] == "false" and web["ENABLE_COLLABORATION_MODE"] == "false"
    assert "NEXT_PUBLIC_SOCKET_URL" not in web
    assert "AGENT_BACKEND_BASE_URL" not in env_of(off, "api")
    assert "socket.io" not in "".join(str(u) for u in off.named(CONTAINER, "dify-dev-nginx").plain["uploads"])

    tls = run_program("dev", overrides={"domain": "dify.example.com", "docker": {"tls": {
        "certificate": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
        "key": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n"}}}, secret_keys=("docker",))
    assert env_of(tls, "web")["NEXT_PUBLIC_SOCKET_URL"] == "wss://dify.example.com"
