"""Every config key the model accepts is in the README's configuration tables, with its default."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from pydantic import BaseModel

from stacks.config import StackConfig

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
_CELL = re.compile(r"`([^`]+)`")


def _model_of(annotation) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def config_keys(model: type[BaseModel] = StackConfig, prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        key = prefix + (field.alias or name)
        nested = _model_of(field.annotation)
        if nested is not None and nested.__name__ not in ("SecretStr",):
            keys += config_keys(nested, key + ".")
        else:
            keys.append(key)
    return keys


def documented_keys() -> set[str]:
    """Keys named in the first cell of a table row: `a.b.c` / `d` names a.b.c and a.b.d."""
    found: set[str] = set()
    for line in README.splitlines():
        if not line.startswith("| `"):
            continue
        names = _CELL.findall(line.split(" | ", 1)[0])
        if not names:
            continue
        first = names[0]
        found.add(first)
        base = first.rsplit(".", 1)[0] + "." if "." in first else ""
        found.update(base + name for name in names[1:])
    # `a.<name>.b` documents the field `b` of every entry of the map `a` (the model's key `a.b`).
    return found | {re.sub(r"\.<[^>]+>(?=\.)", "", key) for key in found}


def test_every_config_key_is_documented() -> None:
    documented = documented_keys()
    missing = [k for k in config_keys() if k not in documented
               and not any(d.startswith(k + ".<") for d in documented)]
    assert not missing, f"config keys missing from README's tables: {missing}"


def test_the_check_finds_a_missing_key() -> None:
    assert "postgres.host" in documented_keys()
    assert "postgres.port" in documented_keys()
    assert "postgres.nonexistent" not in documented_keys()
