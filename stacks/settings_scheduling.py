"""How Dify's work is spread and ranked: `workers` (the Celery worker pools and their sizes) and
`kubernetes.priorityClasses` (which pods win when a cluster runs short)."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal, Optional

from pydantic import Field, field_validator

from components.dify import workers
from components.dify.concurrency import CONCURRENCY, POOL_TASKS
from components.dify.workers import Layout, WorkerPool
from components.kubernetes.sizing import Preset
from components.kubernetes.sizing import preset as sizing_preset
from stacks import rules
from stacks.rules import KeyedError
from stacks.strict import Strict

PoolName = Literal["all", "dataset", "workflow", "ops"]


class PoolSettings(Strict):
    """Overrides of one pool's preset: tasks per pod, and its replica bounds (an autoscaler when they differ)."""

    concurrency: Optional[int] = Field(default=None, ge=1, le=500)
    min_replicas: Optional[int] = Field(default=None, ge=1, le=100)
    max_replicas: Optional[int] = Field(default=None, ge=1, le=200)


class WorkersSettings(Strict):
    # Unset: `split` in size production, `single` otherwise.
    layout: Optional[Layout] = None
    pools: dict[PoolName, PoolSettings] = Field(default_factory=dict)

    def chosen_layout(self, size: str) -> Layout:
        return self.layout or ("split" if size == "production" else "single")

    def resolve(self, size: str, queues: tuple[str, ...]) -> tuple[WorkerPool, ...]:
        layout = self.chosen_layout(size)
        tasks = {workers.ALL: CONCURRENCY[size].celery_tasks, **POOL_TASKS[size]}
        for name, given in self.pools.items():
            if given.concurrency is not None:
                tasks[name] = given.concurrency
        return workers.pools(queues, layout, tasks)

    def sizing(self, preset: Preset, pools: tuple[WorkerPool, ...]) -> Preset:
        """The preset with each pool's replica overrides (a fixed count where the bounds meet)."""
        sized = dict(preset.workloads)
        for pool in pools:
            low, high = self._bounds(preset, pool.name)
            sized[pool.service] = replace(preset.of(pool.service), replicas=low,
                                          max_replicas=high if high is not None and high > low else None)
        return replace(preset, workloads=sized)

    def _bounds(self, preset: Preset, pool: str) -> tuple[int, Optional[int]]:
        base = preset.of(workers.service_name(pool))
        given = self.pools.get(pool)  # type: ignore[call-overload]
        if given is None:
            return base.replicas, base.max_replicas
        low = given.min_replicas or base.replicas
        return low, given.max_replicas if given.max_replicas is not None else base.max_replicas

    def problems(self, target: str, size: str, known_release: bool) -> list[KeyedError]:
        layout = self.chosen_layout(size)
        found: list[KeyedError] = []
        allowed = (workers.ALL,) if layout == "single" else workers.SPLIT
        for name, given in self.pools.items():
            key = f"workers.pools.{name}"
            if name not in allowed:
                found.append(KeyedError(key, f"layout {layout} has the pools {', '.join(allowed)}, not {name}; "
                                             f"rename the key or set workers.layout "
                                             f"{'split' if layout == 'single' else 'single'}"))
            if target == "docker" and (given.min_replicas is not None or given.max_replicas is not None):
                found.append(KeyedError(f"{key}.minReplicas" if given.min_replicas is not None
                                        else f"{key}.maxReplicas",
                                        "the docker target runs one container per pool; remove the replica "
                                        "bounds (concurrency applies)"))
            low, _ = self._bounds(sizing_preset(size), name)
            if given.max_replicas is not None and given.max_replicas < low:
                found.append(KeyedError(f"{key}.maxReplicas", f"maxReplicas {given.max_replicas} is below the "
                                        f"pool's minimum of {low} replicas; raise it or lower {key}.minReplicas"))
        if layout == "split" and not known_release:
            found.append(KeyedError("workers.layout", "layout split names every queue of the release, and this "
                                    "release's queue list is not known here (it is not in the release table); "
                                    "set workers.layout single, which consumes the image's own queues"))
        return found


class PriorityClassSettings(Strict):
    """PriorityClasses for Dify's pods: `critical` (api, web, nginx, plugin daemon, websocket server,
    proxies, migrations, self-hosted data) above `background` (workers, beat, code sandboxes). Unset names
    are created by the program as `<stack prefix>-critical` / `-background`; a name given must be an
    existing class of the cluster."""

    enabled: bool = True
    critical: Optional[str] = None
    background: Optional[str] = None

    @field_validator("critical", "background")
    @classmethod
    def _name(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        rules.dns_subdomain(value, "PriorityClass, e.g. high-priority")
        if value.startswith("system-"):
            raise ValueError(f"{value}: the system- classes are the cluster's own (node and control-plane "
                             "components), which preempt everything else; name a class of your own, or unset "
                             "the key to let the program create one")
        return value
