"""The config model: defaults that work, and wrong config rejected before any resource, naming the key."""

import pytest

from components.dify.releases import DEFAULT_VERSION, LTS_VERSION, RELEASES
from stacks.config import StackConfig
from tools.mocks import PROJECT, run_program

PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"


def test_defaults_are_a_working_docker_stack():
    config = StackConfig.model_validate({})
    assert config.target == "docker"
    assert (config.postgres.mode, config.redis.mode, config.object_storage.mode) == ("self-hosted",) * 3
    assert config.dify.version == DEFAULT_VERSION
    assert config.dify.release == RELEASES[DEFAULT_VERSION]
    assert config.dify.release.features == {"agent", "collaboration"}
    assert not any(ref.endswith(":latest") for ref in config.dify.release.images().values())


def test_the_newest_release_is_the_default_and_the_lts_line_stays_deployable():
    newest = max(RELEASES, key=lambda v: tuple(int(p) for p in v.split(".")))
    assert DEFAULT_VERSION == newest
    assert LTS_VERSION.startswith("1.13.") and RELEASES[LTS_VERSION].lts
    lts = StackConfig.model_validate({"dify": {"version": LTS_VERSION}}).dify.release
    assert lts.features == frozenset() and set(lts.images()) == {"api", "web", "sandbox", "plugin_daemon"}


def test_features_can_be_turned_off():
    release = StackConfig.model_validate({"dify": {"features": {"agent": False}}}).dify.release
    assert release.features == {"collaboration"} and "agent_backend" not in release.images()
    release = StackConfig.model_validate({"dify": {"features": {"collaboration": False}}}).dify.release
    assert release.features == {"agent"}


def test_an_unknown_release_takes_the_services_of_the_one_before_it_and_every_tag():
    tags = {"sandboxVersion": "0.2.15", "pluginDaemonVersion": "0.6.10-local",
            "agentBackendVersion": "1.17.1", "localSandboxVersion": "1.17.1"}
    release = StackConfig.model_validate({"dify": {"version": "1.17.1", **tags}}).dify.release
    assert release.features == {"agent", "collaboration"}
    assert release.images()["agent_backend"] == "langgenius/dify-agent-backend:1.17.1"
    assert release.images()["plugin_daemon"] == "langgenius/dify-plugin-daemon:0.6.10-local"
    assert release.daemon_migrates_apart and release.extra_api_routes == ("/openapi",)


@pytest.mark.parametrize(
    ("overrides", "secret_keys", "key", "hint"),
    [
        ({"target": "gcp"}, (), "target", "'docker', 'aws' or 'alicloud'"),
        ({"postgress": {"mode": "external"}}, (), "postgress", "did you mean `postgres`"),
        ({"redis": {"hots": "cache.internal"}}, (), "redis.hots", "did you mean `redis.host`"),
        ({"dify": {"version": "latest"}}, (), "dify.version", "not a pinned image tag"),
        ({"dify": {"version": "1.99.0"}}, (), "dify.sandboxVersion", "dify.pluginDaemonVersion"),
        ({"dify": {"version": "1.99.0", "sandboxVersion": "0.2.16", "pluginDaemonVersion": "0.6.11-local"}}, (),
         "dify.agentBackendVersion", "dify.localSandboxVersion"),
        ({"dify": {"version": "1.13.3", "features": {"agent": True}}}, (), "dify.features.agent", "1.16.1"),
        ({"dify": {"version": "1.13.3", "features": {"collaboration": True}}}, (), "dify.features.collaboration",
         "pick one of those releases"),
        ({"dify": {"features": {"agents": False}}}, (), "dify.features.agents", "did you mean `dify.features.agent`"),
        ({"redis": {"agentDb": 1}}, (), "redis.agentDb", "must differ"),
        ({"dify": {"version": "1.13.3", "extraEnv": {"agentBackend": {"X": "1"}}}}, (),
         "dify.extraEnv.agentBackend", "remove the key"),
        ({"postgres": {"mode": "external", "host": "db.internal", "password": "pg-secret-1",
                       "sslMode": "verify-full"}}, ("postgres",),
         "postgres.caCertificate", "PEM"),
        ({"postgres": {"mode": "external"}}, (), "postgres.host", "postgres.password"),
        ({"postgres": {"mode": "managed"}}, (), "postgres.mode", "cloud target"),
        ({"postgres": {"port": "five"}}, (), "postgres.port", "valid integer"),
        ({"postgres": {"mode": "external", "host": "db.internal", "password": "hunter2"}}, (),
         "postgres.password", "--secret"),
        ({"redis": {"useTls": "maybe"}}, (), "redis.useTls", "valid boolean"),
        ({"redis": {"db": 1, "brokerDb": 1}}, (), "redis.brokerDb", "must differ"),
        ({"domain": "https://dify.example.com/"}, (), "domain", "bare host name"),
        ({"dify": {"extraEnv": {"apiserver": {"X": "1"}}}}, (), "dify.extraEnv.apiserver", "'api'"),
        ({"dify": {"extraEnv": {"api": {"BAD-NAME": "1"}}}}, (), "dify.extraEnv", "BAD-NAME"),
        ({"dify": {"logLevel": "verbose"}}, (), "dify.logLevel", "'INFO'"),
        ({"docker": {"host": "10.0.0.5"}}, (), "docker.host", "ssh://user@host"),
        ({"objectStorage": {"mode": "external", "kind": "s3-compatible", "bucket": "files"}}, (),
         "objectStorage.endpoint", "required"),
        ({"objectStorage": {"mode": "external", "kind": "s3", "bucket": "Files_Bucket"}}, (),
         "objectStorage.bucket", "lower-case"),
        ({"docker": {"tls": {"certificate": "not a pem", "key": PEM_KEY}}}, ("docker",),
         "docker.tls.certificate", "PEM"),
        ({"registry": {"mirror": "https://mirror.example.com"}}, (), "registry.mirror", "without scheme"),
        ({"target": "aws"}, (), "aws", "aws.region"),
        ({"dify": {"requestBodyLimit": "lots"}}, (), "dify.requestBodyLimit", "nginx size"),
    ],
)
def test_wrong_config_is_rejected_naming_the_key(overrides, secret_keys, key, hint):
    with pytest.raises(Exception) as raised:
        run_program("dev", overrides=overrides, secret_keys=secret_keys)
    message = str(raised.value)
    assert key in message, message
    assert hint in message, message
    assert "hunter2" not in message


def test_rejected_config_declares_nothing():
    from tools import mocks

    run = mocks.Run()
    with pytest.raises(Exception):
        mocks.run_program("dev", overrides={"target": "gcp"}, run=run)
    assert run.resources == []


def test_secret_values_never_appear_in_errors():
    with pytest.raises(Exception) as raised:
        run_program("dev", overrides={"postgres": {"mode": "external", "password": "s3cr3t-value", "port": 0}},
                    secret_keys=("postgres",))
    assert "s3cr3t-value" not in str(raised.value)
    assert f"{PROJECT}:postgres.port" in str(raised.value)


def test_prod_stack_file_validates():
    from tools.mocks import stack_config

    raw, _ = stack_config("prod")
    short = {k.split(":", 1)[1]: v for k, v in raw.items()}
    config = StackConfig.model_validate(short)
    assert config.target == "aws"
    assert config.postgres.mode == config.redis.mode == config.object_storage.mode == "managed"


def test_a_target_without_its_composition_stops_with_a_clear_message(monkeypatch):
    from stacks import targets

    monkeypatch.setitem(targets.COMPOSITIONS, "aws", "stacks.not_in_this_release")
    with pytest.raises(Exception) as raised:
        run_program("prod")
    assert "target 'aws'" in str(raised.value)
    assert "docker" in str(raised.value)
