"""Which restore points this run declares, from the config and the stack's previous outputs."""

from __future__ import annotations

from components.restore_points import OUTPUT, RestorePoint, kept_points
from stacks import last_update
from stacks.config import StackConfig


def planned(config: StackConfig, prefix: str) -> list[RestorePoint]:
    settings = config.restore_points
    previous = last_update.outputs().get(OUTPUT) or []
    return kept_points(previous, config.dify.version, settings.enabled, settings.keep, prefix)


def outputs(points: list[RestorePoint]) -> dict[str, object]:
    return {OUTPUT: [p.output() for p in points]}
