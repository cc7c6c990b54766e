"""Secrets in `dify.extraEnv`: what Pulumi marks secret, and where such values end up.

Pulumi hands the program secrecy per top-level key only. A stack file holding
`dify-deploy:dify: {extraEnv: {api: {OPENAI_API_KEY: {secure: ...}}}}` is read as one object value whose
`Secure()` is true when any value inside is secure (pulumi/sdk go/common/resource/config: the object's
`secure` flag is `hasSecureValue(obj)`, and `Map.SecureKeys()` lists top-level keys), so the engine lists
`dify-deploy:dify` as a secret key and the program gets the whole object, decrypted, with no mark on the
one value. The tests' `run_program` does the same for `{secure: ...}` values (tools/mocks/program.py), and
`secret_keys=("dify",)` below is exactly what `pulumi config set --secret --path dify.extraEnv...` leads to.
"""

from __future__ import annotations

import json

import pytest

from tests.test_kubernetes import assert_secrets_only_in_secrets
from tools.mocks import PROJECT, generated_passwords, is_secret, manifest, run_program

CONTAINER = "docker:index/container:Container"
TOKEN = "sk-extraEnvToken7731"
PLAIN = "plain-value-5521"


def extra(**env):
    return {"dify": {"extraEnv": {"api": env, "worker": env}}}


def k8s_env(run, name):
    deployment = next(manifest(r) for r in run.of_type("kubernetes:apps/v1:Deployment")
                      if manifest(r)["metadata"]["name"].endswith(name) or r.name.endswith(f"-{name}"))
    return {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])}


def test_a_secret_extra_env_value_lives_only_in_kubernetes_secrets():
    run = run_program("k8s", overrides=extra(OPENAI_API_KEY=TOKEN, FEATURE_FLAG=PLAIN), secret_keys=("dify",))
    assert_secrets_only_in_secrets(run, generated_passwords(run) + [TOKEN, PLAIN], must_reach=[TOKEN, PLAIN])
    api = k8s_env(run, "api")
    assert "secretKeyRef" in api["OPENAI_API_KEY"]["valueFrom"]
    assert "value" not in api["OPENAI_API_KEY"]


def test_a_plain_extra_env_value_stays_in_the_pod_spec_when_the_section_is_not_secret():
    run = run_program("k8s", overrides=extra(FEATURE_FLAG=PLAIN))
    assert k8s_env(run, "api")["FEATURE_FLAG"] == {"name": "FEATURE_FLAG", "value": PLAIN}
    assert not any(PLAIN in json.dumps(manifest(r)) for r in run.of_type("kubernetes:core/v1:Secret"))


def test_on_docker_a_secret_extra_env_value_is_in_the_secret_env_only():
    run = run_program("dev", overrides=extra(OPENAI_API_KEY=TOKEN), secret_keys=("dify",))
    api = run.named(CONTAINER, "dify-dev-api")
    assert is_secret(api.inputs["envs"])
    assert f"OPENAI_API_KEY={TOKEN}" in api.plain["envs"]
    for resource in run.resources:
        if resource.typ != CONTAINER:
            assert TOKEN not in json.dumps(resource.plain), f"{resource.typ} {resource.name} holds the token"
    assert all(TOKEN not in json.dumps(value) for value in run.outputs.values())


def test_a_secret_value_overrides_a_plain_variable_of_the_same_name_without_leaving_it_plain():
    run = run_program("k8s", overrides=extra(LOG_LEVEL="DEBUG"), secret_keys=("dify",))
    entry = k8s_env(run, "api")["LOG_LEVEL"]
    assert "secretKeyRef" in entry["valueFrom"] and "value" not in entry


@pytest.mark.parametrize("stack", ["dev", "k8s"])
@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "SMTP_PASSWORD", "NOTION_CLIENT_SECRET", "GITHUB_TOKEN",
                                  "db_password_file"])
def test_a_credential_named_variable_in_plain_text_is_refused_with_the_secret_fix(stack, name):
    with pytest.raises(Exception) as raised:
        run_program(stack, overrides=extra(**{name: TOKEN}))
    message = str(raised.value)
    assert f"{PROJECT}:dify.extraEnv.api.{name}" in message, message
    assert f"pulumi config set --secret --path dify.extraEnv.api.{name}" in message
    assert TOKEN not in message


@pytest.mark.parametrize("value, shown", [(4, "4"), (True, "true"), (False, "false")])
def test_numbers_and_booleans_that_config_set_path_writes_are_kept_as_text(value, shown):
    run = run_program("k8s", overrides=extra(WORKER_CONCURRENCY=value))
    assert k8s_env(run, "api")["WORKER_CONCURRENCY"]["value"] == shown
    secret_run = run_program("dev", overrides=extra(WORKER_CONCURRENCY=value), secret_keys=("dify",))
    assert f"WORKER_CONCURRENCY={shown}" in secret_run.named(CONTAINER, "dify-dev-api").plain["envs"]


def test_a_stack_file_secure_value_marks_the_whole_dify_section_secret(monkeypatch):
    """The harness, like the engine, marks the top-level key of a nested `secure` value: the catalog then
    sees a SecretStr for every value of the section."""
    from stacks import loader
    from tools.mocks import program

    seen = {}
    original = loader.StackConfig.model_validate

    def spy(raw, context=None, **kwargs):
        seen["context"] = context
        return original(raw, context=context, **kwargs)

    monkeypatch.setattr(loader.StackConfig, "model_validate", spy)
    stack_config = program.stack_config

    def with_secure(stack):
        config, keys = stack_config(stack)
        config[f"{PROJECT}:dify"] = {"extraEnv": {"api": {"OPENAI_API_KEY": {"secure": "v1:abc"}}}}
        return config, keys

    monkeypatch.setattr(program, "stack_config", with_secure)
    with pytest.raises(Exception):
        program.run_program("k8s")  # the mock engine cannot decrypt v1:abc; the marking is what is checked
    assert "dify" in seen["context"]["secret_sections"]
