"""Values as the Pulumi engine passes them on the wire: secrets wrapped in a signature map, numbers as
floats."""

from __future__ import annotations

from typing import Any

SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE_SIG = "1b47061264138c4ac30d75fd1eb44270"


def secret(value: Any) -> dict[str, Any]:
    return {SECRET_SIG: SECRET_VALUE_SIG, "value": value}


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE_SIG


def reveal(value: Any) -> Any:
    """The plain value of an input, secret or not, recursively."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def integral(value: Any) -> Any:
    """Wire numbers are floats; manifests want integers where the value is whole."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral(v) for v in value]
    return value


def secret_scalars(value: Any) -> set[str]:
    """Every string held directly in a secret (not the leaves of a secret list or map: those mix
    secret and plain parts)."""
    if is_secret(value):
        inner = value["value"]
        return {inner} if isinstance(inner, str) else secret_scalars(inner)
    if isinstance(value, dict):
        return set().union(*(secret_scalars(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(secret_scalars(v) for v in value))
    return set()
