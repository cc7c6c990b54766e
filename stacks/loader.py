"""Reads the project's Pulumi config into StackConfig, failing early with fixable messages."""

from __future__ import annotations

import difflib
import json
from typing import Any, Iterable

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import BaseModel, ValidationError

from stacks.config import SECRET_SECTIONS, StackConfig
from stacks.rules import KeyedError, KeyedErrors

# Fields that hold credentials: they must come from `pulumi config set --secret`.
SECRET_FIELDS = {
    ("postgres", "password"),
    ("redis", "password"),
    ("objectStorage", "accessKey"),
    ("objectStorage", "secretKey"),
    ("docker", "tls"),
    ("kubernetes", "kubeconfig"),
    ("kubernetes", "tls"),
    ("vectorStore", "apiKey"),
    ("vectorStore", "password"),
}
# Fields that hold a credential only in some of their keys (docker.tls with ACME holds none).
SECRET_PARTS = {("docker", "tls"): ("certificate", "key")}


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


# Words people reach for, and the key that means it here (when the section has that key).
SYNONYMS = {
    "username": "user", "login": "user", "db": "database", "dbname": "database", "name": "database",
    "pass": "password", "pwd": "password", "passwd": "password", "hostname": "host", "address": "host",
    "server": "host", "tls": "useTls", "ssl": "useTls", "env": "extraEnv", "environment": "extraEnv",
    "vars": "extraEnv", "loglevel": "logLevel", "ns": "namespace", "zone": "zones", "cert": "certificate",
    "accesskeyid": "accessKey", "secretaccesskey": "secretKey", "accesskeysecret": "secretKey",
    "instancetype": "nodeInstanceTypes", "nodetype": "nodeInstanceTypes", "nodes": "nodeCount",
}


def _norm(key: str) -> str:
    return key.replace("_", "").replace("-", "").lower()


def suggest(unknown: str, valid: list[str]) -> str | None:
    """The valid key closest to `unknown` in meaning (same words, synonyms, one holding the other) or spelling."""
    wanted = _norm(unknown)
    best, best_score = None, 0.0
    for candidate in valid:
        have = _norm(candidate)
        if wanted == have:
            score = 1.0
        elif SYNONYMS.get(wanted) == candidate:
            score = 0.95
        elif min(len(wanted), len(have)) >= 3 and (wanted in have or have in wanted):
            score = 0.8 - abs(len(have) - len(wanted)) / 100
        else:
            score = difflib.SequenceMatcher(None, wanted, have).ratio()
        if score > best_score:
            best, best_score = candidate, score
    return best if best_score >= 0.6 else None


def _elsewhere(unknown: str) -> str | None:
    """A top-level key that is a key of one section (`namespace` -> `kubernetes.namespace`)."""
    for section in _field_aliases(StackConfig):
        model = _sub_model(StackConfig, section)
        if model is not None and unknown in _field_aliases(model):
            return f"{section}.{unknown}"
    return None


def _is_secret_key(loc: list[str]) -> bool:
    return len(loc) >= 2 and (loc[0], loc[1]) in SECRET_FIELDS


def _describe(project: str, error: dict[str, Any]) -> str:
    loc = [str(part) for part in error["loc"] if part != "[key]"]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, KeyedErrors):
        return "\n  - ".join(f"{project}:{e.key}: {str(e).rstrip('.')}." for e in cause.errors)
    if isinstance(cause, KeyedError):
        return f"{project}:{cause.key}: {str(cause).rstrip('.')}."
    key = ".".join(loc) if loc else "target"
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        parent: type[BaseModel] | None = StackConfig
        for part in loc[:-1]:
            parent = _sub_model(parent, part) if parent else None
        valid = _field_aliases(parent) if parent else []
        close = suggest(loc[-1], valid)
        full = ".".join(loc[:-1] + [close]) if close else (_elsewhere(loc[-1]) if len(loc) == 1 else None)
        hint = f"did you mean `{full}`? " if full else ""
        return (
            f"{project}:{key}: unknown key. {hint}Valid keys here: {', '.join(valid)}. "
            f"Remove it with `pulumi config rm --path {key}`."
        )
    message = error["msg"].removeprefix("Value error, ")
    set_it = "pulumi config set --secret --path" if _is_secret_key(loc) else "pulumi config set --path"
    if kind == "missing":
        return f"{project}:{key}: required. Set it with `{set_it} {key} <value>`."
    if kind in ("int_type", "int_parsing") and isinstance(given, bool):
        return (f"{project}:{key}: give a number, not {str(given).lower()}. "
                f"Fix it with `pulumi config set --path {key} <number>`.")
    if kind == "bool_type" and isinstance(given, (int, float, str)):
        return f"{project}:{key}: {message}: give true or false. Fix it with `pulumi config set --path {key} true`."
    if kind == "string_type" and isinstance(given, (bool, int, float)):
        return (f"{project}:{key}: give text, not a {type(given).__name__}. Fix it with "
                f"`{set_it.replace('set', 'set --type string', 1)} {key} <value>`.")
    if loc and not isinstance(given, dict):
        return f"{project}:{key}: {message}. Fix it with `{set_it} {key} <value>`."
    return f"{project}:{key}: {message}."


def _plaintext_secrets(project: str, raw: dict[str, Any]) -> Iterable[str]:
    for section, field in SECRET_FIELDS:
        value = raw.get(section)
        inner = value.get(field) if isinstance(value, dict) else None
        parts = SECRET_PARTS.get((section, field))
        if parts and isinstance(inner, dict) and not any(inner.get(part) is not None for part in parts):
            continue
        if inner is not None:
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
    secret_sections = {key for key in raw if runtime_config.is_config_secret(f"{project}:{key}")}
    try:
        config = StackConfig.model_validate(raw, context={SECRET_SECTIONS: secret_sections})
    except ValidationError as exc:
        problems += [_describe(project, error) for error in exc.errors()]
        config = None
    if problems:
        raise ConfigError("invalid stack configuration:\n  - " + "\n  - ".join(problems))
    assert config is not None
    return config
