"""Renders the Dify catalog onto a runtime, in dependency order."""

from __future__ import annotations

from graphlib import TopologicalSorter
from typing import Optional, Sequence

import pulumi

from components.runtime import Runtime
from components.workload import ServiceSpec


class DifyApp(pulumi.ComponentResource):
    """Every Dify service as a workload. Services that use data start after the data services
    are ready; the others after the services they name in `depends_on`."""

    def __init__(
        self,
        name: str,
        catalog: dict[str, ServiceSpec],
        runtime: Runtime,
        data_workloads: Sequence[pulumi.Resource],
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__("dify:app:DifyApp", name, None, opts)
        order = TopologicalSorter({s.name: set(s.depends_on) for s in catalog.values()}).static_order()
        self.workloads: dict[str, pulumi.Resource] = {}
        for service_name in order:
            spec = catalog[service_name]
            depends = [self.workloads[d] for d in spec.depends_on]
            if spec.uses_data:
                depends += list(data_workloads)
            self.workloads[service_name] = runtime.run(spec, depends_on=depends, parent=self)
        self.register_outputs({"services": sorted(self.workloads)})
