"""The objects a cluster would receive, built from what the program declared under mocks."""

from __future__ import annotations

from typing import Any

from tools.mocks.program import Declared, Run, autoname
from tools.mocks.wire import integral, reveal


def api_version_kind(typ: str) -> tuple[str, str]:
    """`kubernetes:apps/v1:Deployment` -> ("apps/v1", "Deployment"); the core group is bare "v1"."""
    _, module, kind = typ.split(":")
    group, version = module.split("/")
    return (version if group == "core" else f"{group}/{version}"), kind


def is_object(r: Declared) -> bool:
    """A Kubernetes object (not a provider, a component or a Helm release)."""
    return r.custom and r.typ.startswith("kubernetes:") and not r.typ.startswith("kubernetes:helm.sh/")


def manifest(r: Declared) -> dict[str, Any]:
    """The manifest for `r` with generated names filled in; secrets stay wrapped."""
    api_version, kind = api_version_kind(r.typ)
    result = integral(r.inputs)
    result.setdefault("apiVersion", api_version)
    result.setdefault("kind", kind)
    metadata = result.setdefault("metadata", {})
    metadata.setdefault("name", autoname(r.name))
    return result


def manifests(run: Run) -> list[dict[str, Any]]:
    """Every Kubernetes object the program declared, as the manifest the cluster would receive
    (secrets revealed, generated names filled in)."""
    return [reveal(manifest(r)) for r in run.resources if is_object(r)]
