"""Sizing presets: replicas, autoscaling bounds, requests/limits and volume sizes per workload.

| preset       | api      | web      | worker   | sandbox | plugin daemon | nginx    | ssrf proxy | beat |
|--------------|----------|----------|----------|---------|---------------|----------|------------|------|
| `dev`        | 1        | 1        | 1        | 1       | 1             | 1        | 1          | 1    |
| `small`      | 2        | 2        | 2        | 1       | 1             | 2        | 1          | 1    |
| `production` | 3 (3-10) | 3 (3-10) | 2 (2-10) | 2 (2-6) | 2             | 3 (3-10) | 2 (2-6)    | 1    |

Since 1.16: the collaboration websocket server runs 2 in `production` (1 otherwise), the agent's SSRF
proxy likewise; the agent backend and its local sandbox run 1 in every preset (the sandbox keeps its
jobs in the container, so it is a singleton, replaced rather than rolled).

Worker pools (workers.layout split, the default in `production`; components.dify.workers): `worker-dataset`
1 / 1 / 2 (2-6), `worker-workflow` 1 / 2 / 2 (2-10), `worker-ops` 1 / 1 / 2 (2-4); ops pods are half the size.

(n-m) = a HorizontalPodAutoscaler between n and m replicas at 70 % of the CPU request. Every workload
with two or more replicas gets a PodDisruptionBudget (maxUnavailable 1). Beat is a singleton in all
presets. The plugin daemon is not autoscaled: each replica runs every installed plugin as a child
process, so adding replicas multiplies memory rather than spreading load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

Size = Literal["dev", "small", "production"]
# none: no spread constraints; soft: prefer other zones and nodes; zones: require zones, prefer nodes.
Spread = Literal["none", "soft", "zones"]


@dataclass(frozen=True)
class Resources:
    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str

    def manifest(self) -> dict:
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


@dataclass(frozen=True)
class WorkloadSize:
    resources: Resources
    replicas: int = 1
    max_replicas: Optional[int] = None  # a HorizontalPodAutoscaler when set
    cpu_target: int = 70

    @property
    def autoscaled(self) -> bool:
        return self.max_replicas is not None


@dataclass(frozen=True)
class Preset:
    name: Size
    workloads: dict[str, WorkloadSize]
    volumes: dict[str, str]  # persistent volume claims (data services), by logical volume
    scratch: dict[str, str]  # emptyDir size limits (Dify services' local state), by logical volume
    spread: Spread
    default: WorkloadSize = field(default=WorkloadSize(Resources("100m", "128Mi", "500m", "512Mi")))

    def of(self, service: str) -> WorkloadSize:
        return self.workloads.get(service, self.default)

    def volume(self, logical: str) -> str:
        return self.volumes.get(logical, "10Gi")

    def scratch_limit(self, logical: str) -> str:
        return self.scratch.get(logical, "1Gi")


_BINARY = {"Mi": 1, "Gi": 1024, "Ti": 1024 ** 2}


def at_least(size: str, minimum: Optional[str]) -> str:
    """A claim's size raised to the smallest volume the storage class provisions (e.g. 20Gi for ESSD)."""
    if minimum is None:
        return size
    mebibytes = lambda q: int(q[:-2]) * _BINARY[q[-2:]]  # noqa: E731
    return minimum if mebibytes(size) < mebibytes(minimum) else size


def _r(cpu_req: str, mem_req: str, cpu_lim: str, mem_lim: str) -> Resources:
    return Resources(cpu_req, mem_req, cpu_lim, mem_lim)


_DEV_RESOURCES = {
    "api": _r("200m", "512Mi", "1", "1536Mi"),
    "migrate": _r("200m", "512Mi", "1", "1536Mi"),
    "worker": _r("200m", "512Mi", "1", "1536Mi"),
    "worker-dataset": _r("200m", "512Mi", "1", "1536Mi"),
    "worker-workflow": _r("200m", "512Mi", "1", "1536Mi"),
    "worker-ops": _r("100m", "384Mi", "500m", "1Gi"),
    "beat": _r("50m", "256Mi", "500m", "512Mi"),
    "web": _r("100m", "256Mi", "1", "1Gi"),
    "sandbox": _r("100m", "128Mi", "1", "512Mi"),
    "plugin-daemon": _r("200m", "512Mi", "1", "2Gi"),
    "ssrf-proxy": _r("50m", "64Mi", "500m", "256Mi"),
    "nginx": _r("50m", "32Mi", "500m", "128Mi"),
    "postgres": _r("250m", "512Mi", "1", "1Gi"),
    "redis": _r("50m", "64Mi", "500m", "256Mi"),
    "object-store": _r("100m", "256Mi", "1", "1Gi"),
    "api-websocket": _r("100m", "384Mi", "1", "1Gi"),
    "agent-backend": _r("100m", "256Mi", "1", "1Gi"),
    "local-sandbox": _r("100m", "256Mi", "1", "1Gi"),
    "agent-ssrf-proxy": _r("50m", "64Mi", "500m", "256Mi"),
}

_PRODUCTION_RESOURCES = {
    "api": _r("500m", "1Gi", "2", "2Gi"),
    "migrate": _r("500m", "1Gi", "2", "2Gi"),
    "worker": _r("500m", "1Gi", "2", "2Gi"),
    "worker-dataset": _r("500m", "1Gi", "2", "2Gi"),
    "worker-workflow": _r("500m", "1Gi", "2", "2Gi"),
    "worker-ops": _r("250m", "512Mi", "1", "1Gi"),
    "beat": _r("100m", "256Mi", "500m", "512Mi"),
    "web": _r("250m", "512Mi", "1", "1Gi"),
    "sandbox": _r("250m", "256Mi", "1", "1Gi"),
    "plugin-daemon": _r("500m", "1Gi", "2", "4Gi"),
    "ssrf-proxy": _r("100m", "128Mi", "1", "512Mi"),
    "nginx": _r("100m", "64Mi", "1", "256Mi"),
    "postgres": _r("1", "2Gi", "2", "4Gi"),
    "redis": _r("250m", "512Mi", "1", "1Gi"),
    "object-store": _r("250m", "512Mi", "1", "2Gi"),
    "api-websocket": _r("250m", "512Mi", "1", "1Gi"),
    "agent-backend": _r("250m", "512Mi", "2", "2Gi"),
    "local-sandbox": _r("250m", "512Mi", "2", "2Gi"),
    "agent-ssrf-proxy": _r("100m", "128Mi", "1", "512Mi"),
}

_SCRATCH = {"sandbox-dependencies": "1Gi", "plugin-daemon-storage": "10Gi", "restore-point-files": "20Gi"}


def _sized(resources: dict[str, Resources], replicas: dict[str, tuple[int, Optional[int]]]) -> dict[str, WorkloadSize]:
    return {
        name: WorkloadSize(res, *replicas.get(name, (1, None)))
        for name, res in resources.items()
    }


PRESETS: dict[str, Preset] = {
    "dev": Preset(
        name="dev",
        workloads=_sized(_DEV_RESOURCES, {}),
        volumes={"postgres-data": "10Gi", "redis-data": "2Gi", "object-store-data": "20Gi"},
        scratch=_SCRATCH,
        spread="none",
    ),
    "small": Preset(
        name="small",
        workloads=_sized(
            _DEV_RESOURCES,
            {"api": (2, None), "web": (2, None), "worker": (2, None), "nginx": (2, None), "worker-workflow": (2, None)},
        ),
        volumes={"postgres-data": "20Gi", "redis-data": "5Gi", "object-store-data": "50Gi"},
        scratch=_SCRATCH,
        spread="soft",
    ),
    "production": Preset(
        name="production",
        workloads=_sized(
            _PRODUCTION_RESOURCES,
            {
                "api": (3, 10), "web": (3, 10), "worker": (2, 10), "sandbox": (2, 6),
                "worker-dataset": (2, 6), "worker-workflow": (2, 10), "worker-ops": (2, 4),
                "plugin-daemon": (2, None), "nginx": (3, 10), "ssrf-proxy": (2, 6),
                "api-websocket": (2, None), "agent-ssrf-proxy": (2, None),
            },
        ),
        volumes={"postgres-data": "50Gi", "redis-data": "10Gi", "object-store-data": "100Gi"},
        scratch={**_SCRATCH, "plugin-daemon-storage": "20Gi"},
        spread="zones",
    ),
}


def preset(size: str) -> Preset:
    return PRESETS[size]
