"""What the project and a stack's file (Pulumi.<stack>.yaml) already say, read without the Pulumi CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent


def project_name(root: Path = ROOT) -> str:
    return yaml.safe_load((root / "Pulumi.yaml").read_text())["name"]


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return "secure" in value or any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


@dataclass(frozen=True)
class StackFile:
    config: dict[str, Any]  # the project's keys by short name: "target", "docker", ...
    has_secrets: bool  # some value is encrypted (`secure:`), so the file alone cannot be validated
    secrets_provider: Optional[str]  # None: the backend's default (Pulumi Cloud, or a passphrase)

    @classmethod
    def read(cls, stack: str, root: Path = ROOT) -> "StackFile":
        """`stack` may be fully qualified (org/project/name); the file is named after its last part."""
        path = root / f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"
        data = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
        prefix = f"{project_name(root)}:"
        config = {key[len(prefix):]: value for key, value in (data.get("config") or {}).items()
                  if key.startswith(prefix)}
        return cls(config=config, has_secrets=_has_secure(config), secrets_provider=data.get("secretsprovider"))
