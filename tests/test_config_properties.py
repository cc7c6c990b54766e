"""Property-based tests over the config model: generated values and mutations of the example stack
files end either in a clear error naming a key, or in a run of the whole program under mocks; never a
traceback, never a secret value in a message. The hypothesis profile (tests/conftest.py) is derandomized
with few examples, so CI is fast and repeatable; HYPOTHESIS_PROFILE=deep explores more."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pulumi
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from stacks.config import StackConfig, nginx_size_bytes
from stacks.loader import _sub_model
from tools.mocks import PROJECT, run_program, stack_config

MARKER = "Zq9SecretMarker"
STACKS = ("dev", "k8s", "prod", "alicloud")
SECRET_PATHS = {("postgres", "password"), ("redis", "password"), ("objectStorage", "accessKey"),
                ("objectStorage", "secretKey"), ("kubernetes", "kubeconfig")}


def _paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, field in model.model_fields.items():
        alias = (field.alias or name,)
        sub = _sub_model(model, alias[0])
        out.append(prefix + alias)
        if sub is not None:
            out += _paths(sub, prefix + alias)
    return out


PATHS = _paths(StackConfig)

values = st.one_of(
    st.booleans(), st.integers(-3, 70000), st.just(2 ** 40), st.none(),
    st.text(alphabet="abcXYZ019-_. /:@", max_size=12),
    st.sampled_from(["", " ", "a b", "10.0.0.300", "Dify_X", "https://", "0.0.0.0/0", "us-east-1a", "cn-hangzhou-j",
                     "100M", "9999999999G", "db.m7g.large", "ecs.g7.2xlarge", "vsw-a", "subnet-0123456789abcdef0",
                     "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b", "latest", "1.13.3", "self-hosted",
                     "external", "managed", MARKER]),
    st.lists(st.sampled_from(["a", "10.0.0.0/8", "203.0.113.0/24", "cn-hangzhou-j", "m6i.xlarge", ""]), max_size=3),
    st.dictionaries(st.sampled_from(["api", "worker", "X", "OPENAI_API_KEY", "A_B"]),
                    st.one_of(st.text(max_size=5), st.integers(0, 9), st.booleans()), max_size=2),
)


def _set(config: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = config
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    if value is None:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value


def _outcome(stack: str, short: dict[str, Any], secret_keys: tuple[str, ...]) -> None:
    try:
        run = run_program(stack, overrides=short, secret_keys=secret_keys)
    except pulumi.RunError as error:
        message = str(error)
        assert "Traceback" not in message
        assert MARKER not in message, message
        lines = message.splitlines()
        problems = [line for line in lines[1:] if line.startswith("  - ")]
        assert problems, message
        assert all(line.startswith(f"  - {PROJECT}:") and "(stack)" not in line for line in problems), message
        return
    assert run.resources, "an accepted config deploys something"


@given(stack=st.sampled_from(STACKS),
       mutations=st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=3))
def test_mutated_example_stacks_fail_clearly_or_run(stack, mutations):
    base = {k.split(":", 1)[1]: v for k, v in stack_config(stack)[0].items()}
    config = copy.deepcopy(base)
    for path, value in mutations:
        if len(path) == 1 and isinstance(value, (bool, int)):
            value = json.dumps(value)  # top-level values are always strings (`pulumi config set`)
        _set(config, path, value)
    secret_keys = tuple({p[0] for p, v in mutations if p[:2] in SECRET_PATHS} | ({"dify"} if "dify" in config else set()))
    short = {k: config.get(k) for k in set(config) | set(base)}
    _outcome(stack, short, secret_keys)


@given(st.fixed_dictionaries({}, optional={
    "target": st.sampled_from(["docker", "kubernetes", "aws", "alicloud", "gcp"]),
    "size": st.sampled_from(["dev", "small", "production", "huge"]),
    "region": st.sampled_from(["us-east-1", "cn-hangzhou", "eu-west-1", "us-east-1a"]),
    "postgres": st.fixed_dictionaries({}, optional={"mode": st.sampled_from(["self-hosted", "external", "managed"]),
                                                    "host": values, "port": values, "password": st.just(MARKER)}),
    "redis": st.fixed_dictionaries({}, optional={"mode": st.sampled_from(["self-hosted", "managed"]),
                                                 "db": values, "brokerDb": values}),
    "dify": st.fixed_dictionaries({}, optional={"requestBodyLimit": values, "uploadFileSizeLimitMb": values,
                                                "extraEnv": st.just({"api": {"OPENAI_API_KEY": MARKER}})}),
}))
def test_generated_configs_fail_clearly_or_run(config):
    stack = "dev"
    short = {k: json.dumps(v) if k in ("target", "size", "region") and not isinstance(v, str) else v
             for k, v in config.items()}
    _outcome(stack, {"target": "docker", **short}, secret_keys=tuple(k for k in ("postgres",) if k in short))


# -- nginx sizes: the model agrees with nginx itself --------------------------------------------------

def _nginx_accepts(size: str, tmp: Path) -> bool:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    conf = tmp / "nginx.conf"
    conf.write_text(f"pid {tmp}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
                    f"http {{ client_max_body_size {size}; }}\n")
    return subprocess.run([nginx, "-t", "-q", "-p", str(tmp), "-c", str(conf)], capture_output=True).returncode == 0


sizes = st.one_of(
    st.from_regex(r"\A[0-9]{1,12}[kKmMgGtb]?\Z"),
    st.sampled_from(["8589934591G", "8589934592G", "9007199254740991k", "9223372036854775807",
                     "9223372036854775808", "1.5G", "-1M", "100MB", "0", "007M"]),
)


@given(size=sizes)
def test_request_body_limit_is_accepted_exactly_when_nginx_accepts_it(size, tmp_path_factory):
    try:
        nginx_size_bytes(size)
        model = True
    except ValueError:
        model = False
    assert model == _nginx_accepts(size, tmp_path_factory.mktemp("nginx")), size


# Values that are right for their key on their own; combined, they may still clash (then the error must
# be clear) or run. This side of the space is where a quietly accepted mistake would show up as a crash.
GOOD: dict[tuple[str, ...], list[Any]] = {
    ("dify", "logLevel"): ["DEBUG", "ERROR"],
    ("dify", "requestBodyLimit"): ["1G", "0", 209715200],
    ("dify", "uploadFileSizeLimitMb"): [50, 1],
    ("dify", "pipMirrorUrl"): ["https://pypi.example.com/simple"],
    ("dify", "extraEnv"): [{"api": {"WORKERS": 4, "DEBUG": True}}, {"worker": {"CELERY_X": "1"}}],
    ("registry", "mirror"): ["mirror.example.com", "registry.example.com:5000/hub"],
    ("postgres", "user"): ["app_user"],
    ("postgres", "pluginDatabase"): ["plugins"],
    ("redis", "db"): [2], ("redis", "brokerDb"): [3],
    ("objectStorage", "bucket"): ["dify-files-1"],
    ("kubernetes", "namespace"): ["dify-x"],
    ("kubernetes", "networkPolicies"): [False],
    ("kubernetes", "storageClass"): ["gp3"],
    ("docker", "httpPort"): [8080], ("docker", "bindAddress"): ["127.0.0.1"],
    ("aws", "nodeInstanceTypes"): [["m7i.large", "m6i.large"]],
    ("aws", "apiAccessCidrs"): [["203.0.113.0/24"]],
    ("aws", "postgresVersion"): [17, "17.5"],
    ("alicloud", "nodeInstanceTypes"): [["ecs.g7.xlarge"]],
    ("alicloud", "nodeSystemDiskGb"): [200],
    ("domain",): ["dify.example.org"],
}


@settings(max_examples=20)
@given(stack=st.sampled_from(STACKS),
       picks=st.lists(st.sampled_from(sorted(GOOD)), min_size=1, max_size=3, unique=True), data=st.data())
def test_plausible_changes_to_example_stacks_fail_clearly_or_run(stack, picks, data):
    base = {k.split(":", 1)[1]: v for k, v in stack_config(stack)[0].items()}
    config = copy.deepcopy(base)
    for path in picks:
        _set(config, path, data.draw(st.sampled_from(GOOD[path])))
    _outcome(stack, {k: config.get(k) for k in set(config) | set(base)}, ())
