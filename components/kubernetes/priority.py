"""PriorityClasses for the workloads' tiers (ServiceSpec.priority): when a cluster runs short of room, the
scheduler preempts `background` pods (workers, beat, the code sandbox) to place `critical` ones (api, web,
nginx, the plugin daemon, the data), and the kubelet evicts lower priorities first under node pressure.

A tier's class is either named (an existing class of the cluster) or created here, cluster-scoped, under
the stack's prefix so that stacks sharing a cluster do not clash: `<prefix>-critical` above every pod
without a class, `<prefix>-background` level with them and never preempting anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

TIERS = ("critical", "background")
# Well below the system classes (2000000000 and up) and the user maximum (1000000000).
VALUES = {"critical": 100000, "background": 0}
PREEMPTION = {"critical": "PreemptLowerPriority", "background": "Never"}
DESCRIPTIONS = {
    "critical": "Dify's request path and data: placed before, and evicted after, its background work",
    "background": "Dify's queued and batch work (Celery workers, beat, the code sandbox): never preempts",
}


@dataclass(frozen=True)
class Priorities:
    """Tier -> class name, and the classes declared here (for workloads to wait for)."""

    names: dict[str, str]
    created: tuple[pulumi.Resource, ...] = field(default=())


def declare(prefix: str, given: dict[str, Optional[str]], labels: dict[str, str],
            opts: pulumi.ResourceOptions) -> Priorities:
    names: dict[str, str] = {}
    created: list[pulumi.Resource] = []
    for tier in TIERS:
        if given.get(tier):
            names[tier] = given[tier]  # type: ignore[assignment]
            continue
        names[tier] = f"{prefix}-{tier}"
        created.append(k8s.scheduling.v1.PriorityClass(
            f"{prefix}-priority-{tier}",
            metadata={"name": names[tier], "labels": dict(labels)},
            value=VALUES[tier], preemption_policy=PREEMPTION[tier], global_default=False,
            description=DESCRIPTIONS[tier],
            # Value and policy are immutable: a change makes a new class under the same name.
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=True)),
        ))
    return Priorities(names, tuple(created))
