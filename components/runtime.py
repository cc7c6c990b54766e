"""What a renderer offers the components that run self-hosted workloads on it."""

from __future__ import annotations

from typing import Optional, Protocol, Sequence

import pulumi

from components.workload import ServiceSpec


class Runtime(Protocol):
    def run(
        self,
        spec: ServiceSpec,
        depends_on: Sequence[pulumi.Resource] = (),
        parent: Optional[pulumi.Resource] = None,
    ) -> pulumi.Resource: ...
