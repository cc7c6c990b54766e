"""Which restore points this run declares, from the config and the stack's previous outputs."""

from __future__ import annotations

from typing import Any

import pulumi

from components.restore_points import OUTPUT, RestorePoint, kept_points
from stacks.config import StackConfig

# The engine's own builtin for stack outputs (what a StackReference reads), answered synchronously so
# the points' names are known while resources are declared.
READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs"


def previous_outputs() -> dict[str, Any]:
    """This stack's outputs as its last update left them; empty before the first one. A failed read
    stops the program: guessing "none" would delete the points kept so far."""
    name = "/".join(part for part in (pulumi.get_organization(), pulumi.get_project(), pulumi.get_stack()) if part)
    result = pulumi.runtime.invoke(READ_STACK_OUTPUTS, {"name": name})
    value = result.value or {}
    return dict(value.get("outputs") or {})


def planned(config: StackConfig, prefix: str) -> list[RestorePoint]:
    settings = config.restore_points
    previous = previous_outputs().get(OUTPUT) or []
    return kept_points(previous, config.dify.version, settings.enabled, settings.keep, prefix)


def outputs(points: list[RestorePoint]) -> dict[str, object]:
    return {OUTPUT: [p.output() for p in points]}
