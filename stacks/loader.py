"""Reads the project's Pulumi config into StackConfig, failing early with fixable messages."""

from __future__ import annotations

import difflib
import json
from typing import Any, Iterable

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import BaseModel, ValidationError

from stacks.config import StackConfig

# Fields that hold credentials: they must come from `pulumi config set --secret`.
SECRET_FIELDS = {
    ("postgres", "password"),
    ("redis", "password"),
    ("objectStorage", "accessKey"),
    ("objectStorage", "secretKey"),
    ("docker", "tls"),
    ("kubernetes", "kubeconfig"),
    ("kubernetes", "tls"),
}


class ConfigError(pulumi.RunError):
    """A configuration problem, reported without a stack trace."""


def _project_keys(project: str) -> dict[str, Any]:
    """All config values set in this project's namespace, by their short key."""
    prefix = f"{project}:"
    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return {key[len(prefix):]: value for key, value in merged.items() if key.startswith(prefix)}


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _field_aliases(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _sub_model(model: type[BaseModel], alias: str) -> type[BaseModel] | None:
    for name, field in model.model_fields.items():
        if (field.alias or name) != alias:
            continue
        for candidate in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                return candidate
    return None


def _describe(project: str, error: dict[str, Any]) -> str:
    loc = [str(part) for part in error["loc"] if part != "[key]"]
    key = ".".join(loc) if loc else "(stack)"
    kind = error["type"]
    if kind == "extra_forbidden":
        parent: type[BaseModel] | None = StackConfig
        for part in loc[:-1]:
            parent = _sub_model(parent, part) if parent else None
        valid = _field_aliases(parent) if parent else []
        close = difflib.get_close_matches(loc[-1], valid, n=1)
        hint = f"did you mean `{'.'.join(loc[:-1] + close)}`? " if close else ""
        return (
            f"{project}:{key}: unknown key. {hint}Valid keys here: {', '.join(valid)}. "
            f"Remove it with `pulumi config rm --path {key}`."
        )
    message = error["msg"].removeprefix("Value error, ")
    if kind == "missing":
        return f"{project}:{key}: required. Set it with `pulumi config set --path {key} <value>`."
    if loc and not isinstance(error.get("input"), dict):
        return f"{project}:{key}: {message}. Fix it with `pulumi config set --path {key} <value>`."
    return f"{project}:{key}: {message}."


def _plaintext_secrets(project: str, raw: dict[str, Any]) -> Iterable[str]:
    for section, field in SECRET_FIELDS:
        value = raw.get(section)
        if isinstance(value, dict) and value.get(field) is not None:
            if not runtime_config.is_config_secret(f"{project}:{section}"):
                yield (
                    f"{project}:{section}.{field}: holds a credential in plain text. "
                    f"Set it with `pulumi config set --secret --path {section}.{field} <value>`."
                )


def load(project: str | None = None) -> StackConfig:
    """Validates the stack's config before any resource is declared."""
    project = project or pulumi.get_project()
    raw = {key: _decode(value) for key, value in _project_keys(project).items()}
    problems = list(_plaintext_secrets(project, raw))
    try:
        config = StackConfig.model_validate(raw)
    except ValidationError as exc:
        problems += [_describe(project, error) for error in exc.errors()]
        config = None
    if problems:
        raise ConfigError("invalid stack configuration:\n  - " + "\n  - ".join(problems))
    assert config is not None
    return config
