"""A workload described as plain data (a Dify service or a self-hosted data service); both renderers read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

import pulumi

# Logical networks, as upstream's compose groups the services (what the renderers enforce is the
# `calls` / `data` / `internet` contract below; `data` alone marks a data service).
# `app`: Dify's own services and the way out to the internet.
# `sandbox`: internal, the sandbox's only network; it leaves through the SSRF proxy.
# `data`: internal, the databases and object store, joined only by services that use them.
# `agent-sandbox`: internal, the agent backend and its local sandbox (the backend drives the sandbox).
# `agent-proxy`: internal, the local sandbox and its own SSRF proxy, its only way out.
APP_NET, SANDBOX_NET, DATA_NET = "app", "sandbox", "data"
AGENT_SANDBOX_NET, AGENT_PROXY_NET = "agent-sandbox", "agent-proxy"

# The data services a workload may use, by the host name the self-hosted ones run under.
POSTGRES, REDIS, OBJECT_STORE = "postgres", "redis", "object-store"
ALL_DATA = frozenset({POSTGRES, REDIS, OBJECT_STORE})
# A vector store outside PostgreSQL (pgvector needs no destination of its own): only api and worker use it.
VECTOR_STORE = "vector-store"


@dataclass(frozen=True)
class Port:
    name: str
    number: int


@dataclass(frozen=True)
class Call:
    """A connection a workload opens to another workload of the deployment, on one of its ports."""

    service: str
    port: int


@dataclass(frozen=True)
class PublishedPort:
    """A container port the entry exposes on the host (Docker) or the load balancer (Kubernetes)."""

    name: str
    container: int
    host: int


@dataclass(frozen=True)
class HealthCheck:
    """`path` and `port` for an HTTP probe (Kubernetes); `command` for a container health check (Docker)."""

    port: int
    path: Optional[str] = None
    command: Optional[tuple[str, ...]] = None
    interval_s: int = 30
    timeout_s: int = 5
    retries: int = 3
    start_period_s: int = 30


def curl_check(port: int, path: str) -> tuple[str, ...]:
    """A container health-check command: an HTTP GET on the service's own port (images with curl)."""
    return ("CMD", "curl", "-fsS", "-o", "/dev/null", f"http://127.0.0.1:{port}{path}")


@dataclass(frozen=True)
class QueueScaling:
    """Scale on the backlog of Celery's queues in Redis (KEDA's redis trigger), where KEDA runs. The
    password is the workload's own secret env key; `per_replica` is the backlog one replica takes on."""

    host: pulumi.Input[str]
    port: pulumi.Input[int]
    db: int
    tls: bool
    password_key: str
    queues: tuple[str, ...]
    per_replica: int


@dataclass(frozen=True)
class Scrape:
    """An endpoint Prometheus scrapes: a port of the workload or of one of its sidecars, by name and number."""

    port: str
    number: int
    path: str = "/metrics"


@dataclass(frozen=True)
class Sidecar:
    """A helper container in the workload's pod (Kubernetes; a Docker host runs helpers as containers of
    their own). `files`: paths of the workload's own files it mounts too; resources as requests/limits."""

    name: str
    image: str
    args: tuple[str, ...] = ()
    ports: tuple[Port, ...] = ()
    files: tuple[str, ...] = ()
    health: Optional[HealthCheck] = None
    cpu: tuple[str, str] = ("10m", "100m")
    memory: tuple[str, str] = ("16Mi", "64Mi")


@dataclass(frozen=True)
class StateMount:
    """Persistent state: a named volume on Docker, a volume claim or shared storage on Kubernetes."""

    volume: str
    path: str


@dataclass(frozen=True)
class ConfigFile:
    path: str
    content: pulumi.Input[str]
    secret: bool = False


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    upstream_name: str
    image: str
    ports: tuple[Port, ...] = ()
    command: Optional[tuple[str, ...]] = None
    entrypoint: Optional[tuple[str, ...]] = None
    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    secret_env: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    health: Optional[HealthCheck] = None
    state: tuple[StateMount, ...] = ()
    files: tuple[ConfigFile, ...] = ()
    networks: frozenset[str] = frozenset({APP_NET})
    depends_on: tuple[str, ...] = ()
    uses_data: bool = False
    singleton: bool = False
    public_ports: tuple[PublishedPort, ...] = ()
    # Runs to completion once per rollout (a Kubernetes Job) instead of serving; no ports, no probes.
    run_once: bool = False
    # How long a stopping process may finish its work (in-flight requests, running tasks) before it is killed.
    grace_period_s: int = 30
    # Seconds a pod keeps serving after it is told to stop, so endpoints and balancers drop it first.
    drain_s: int = 0
    # A liveness command for a service without a health port (the Celery worker's ping).
    liveness_command: Optional[tuple[str, ...]] = None
    queue_scaling: Optional[QueueScaling] = None
    # Who it talks to, the contract both renderers enforce: other workloads (service and port), the data
    # services it uses (in the deployment or managed), and whether it opens connections to the internet.
    calls: tuple[Call, ...] = ()
    data: frozenset[str] = frozenset()
    internet: bool = False
    # Writes into its image's own directories (so no read-only root filesystem for it).
    writes_image: bool = False
    sidecars: tuple[Sidecar, ...] = ()
    # Metrics endpoints a Prometheus scrapes (from the Prometheus namespace only; see components.monitoring).
    scrape: tuple[Scrape, ...] = ()
    # A run-once step that runs to completion before this one starts and shares its state mounts (a
    # Kubernetes init container; a Docker container of its own). It names its own data services.
    prepare: Optional["ServiceSpec"] = None
    # Who yields when a cluster runs short: `background` pods (queued and batch work) before `critical`
    # ones (what serves requests, and the data).
    priority: Literal["critical", "background"] = "critical"

    @property
    def address(self) -> str:
        """host:port of the service's first port inside the deployment."""
        return f"{self.name}:{self.ports[0].number}" if self.ports else self.name
