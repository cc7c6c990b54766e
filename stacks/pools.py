"""The stack's Celery worker pools (`workers`) and the sizing preset that holds their replica bounds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.dify.workers import WorkerPool
from components.kubernetes.sizing import Preset, preset

if TYPE_CHECKING:
    from stacks.config import StackConfig


def worker_pools(config: "StackConfig") -> tuple[WorkerPool, ...]:
    return config.workers.resolve(config.size, config.dify.release.worker_queues)


def sizing(config: "StackConfig") -> Preset:
    """The `size` preset with each pool's replicas, autoscaling bounds and resources."""
    return config.workers.sizing(preset(config.size), worker_pools(config))


def worker_services(config: "StackConfig") -> tuple[str, ...]:
    return tuple(pool.service for pool in worker_pools(config))
