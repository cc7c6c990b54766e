"""The few answers a rollout needs, and the stack config keys they become."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional, get_args

from pulumi.runtime import config as runtime_config

from rollout.errors import PreflightError
from rollout.stack_file import StackFile, project_name
from stacks.config import Size, Target
from stacks.loader import ConfigError, load
from stacks.settings_alicloud import AlicloudSettings
from stacks.settings_aws import AwsSettings

TARGETS = ("docker", *(t for t in get_args(Target) if t != "docker"))
SIZES = get_args(Size)
DEFAULT_REGIONS = {"aws": AwsSettings.model_fields["region"].default,
                   "alicloud": AlicloudSettings.model_fields["region"].default}
CLOUD_TARGETS = tuple(DEFAULT_REGIONS)


@dataclass(frozen=True)
class Answers:
    stack: str = "dev"
    target: str = "docker"
    size: str = "dev"
    domain: Optional[str] = None
    region: Optional[str] = None


def config_keys(answers: Answers) -> dict[str, str]:
    """The answers as `pulumi config set --path` keys in the project's namespace."""
    keys = {"target": answers.target, "size": answers.size}
    if answers.domain:
        keys["domain"] = answers.domain
    if answers.target in CLOUD_TARGETS:
        keys[f"{answers.target}.region"] = answers.region or DEFAULT_REGIONS[answers.target]
    return keys


def superseded_keys(answers: Answers, stack_file: StackFile) -> list[str]:
    """Keys of the stack file that would contradict the answers: a flat `region` (what `pulumi new`
    writes) when the answer sets `<cloud>.region`."""
    return ["region"] if answers.target in CLOUD_TARGETS and "region" in stack_file.config else []


def with_path_key(config: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """`config` with `key` set as `pulumi config set --path` sets it (a.b -> {"a": {"b": ...}})."""
    head, _, rest = key.partition(".")
    if not rest:
        return {**config, head: value}
    inner = config.get(head) if isinstance(config.get(head), dict) else {}
    return {**config, head: with_path_key(inner, rest, value)}


def merged_config(answers: Answers, stack_file: StackFile) -> dict[str, Any]:
    """The stack's config after the rollout writes the answers into it."""
    config = {k: v for k, v in stack_file.config.items() if k not in superseded_keys(answers, stack_file)}
    for key, value in config_keys(answers).items():
        config = with_path_key(config, key, value)
    return config


def validate(answers: Answers, stack_file: StackFile) -> str:
    """Runs the program's own config loader on the stack's config as it will be, so a wrong answer
    stops here with the loader's message. A file holding encrypted values is left to `pulumi up`,
    which validates it the same way before declaring anything."""
    if stack_file.has_secrets:
        return "left to `pulumi up` (the stack file holds encrypted values)"
    project = project_name()
    wire = {f"{project}:{k}": v if isinstance(v, str) else json.dumps(v)
            for k, v in merged_config(answers, stack_file).items()}
    runtime_config.set_all_config(wire, [])
    try:
        load(project)
    except ConfigError as error:
        raise PreflightError(str(error)) from None
    finally:
        runtime_config.set_all_config({}, [])
    return "accepted by the program's config model"
