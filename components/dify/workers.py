"""Celery worker pools: which of the release's queues each worker Deployment (or container) consumes.

Layout `single`: one pool, `all`, consuming every queue of the release the way upstream's worker does
(the image's own queue list, api/docker/entrypoint.sh). Layout `split`: three pools, so a backlog in one
group neither delays nor starves the others, and each scales on its own queues:
- `dataset`: indexing, summaries and knowledge pipelines, long CPU- and embedding-bound tasks;
- `workflow`: workflow runs started without a user waiting (triggers, schedules, async app runs) and the
  persistence of workflow runs, I/O-bound on models and tools;
- `ops`: everything else, short and light: mail, traces, plugin upgrades, deletions, retention, token
  bookkeeping, trigger subscription refreshes, and any queue this table does not place.
Every queue of the release is consumed by exactly one pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

Layout = Literal["single", "split"]
ALL = "all"
SPLIT: tuple[str, ...] = ("dataset", "workflow", "ops")
CATCH_ALL = "ops"
POOLS = (ALL,) + SPLIT
_GROUP = {
    "dataset": "dataset", "dataset_summary": "dataset", "priority_dataset": "dataset",
    "pipeline": "dataset", "priority_pipeline": "dataset",
    "workflow": "workflow", "workflow_storage": "workflow", "workflow_based_app_execution": "workflow",
    "schedule_poller": "workflow", "schedule_executor": "workflow", "triggered_workflow_dispatcher": "workflow",
}


@dataclass(frozen=True)
class WorkerPool:
    """One worker Deployment (container): its queues and `concurrency`, the tasks one pod runs at once
    (Celery's `-c`, CELERY_WORKER_AMOUNT, gevent greenlets sharing the process's connection pools).
    `queues` empty: the image's own list (the `all` pool, so a release's new queues are never missed)."""

    name: str
    queues: tuple[str, ...]
    concurrency: int
    # The queues it watches for scaling (all of its own; for `all`, the release's).
    watched: tuple[str, ...] = ()

    @property
    def service(self) -> str:
        return service_name(self.name)


def service_name(pool: str) -> str:
    """`worker` for the single pool (its objects keep their names), `worker-<pool>` for the others."""
    return "worker" if pool == ALL else f"worker-{pool}"


def pool_of(queue: str) -> str:
    return _GROUP.get(queue, CATCH_ALL)


def queues_by_pool(queues: tuple[str, ...], layout: Layout) -> dict[str, tuple[str, ...]]:
    """The release's queues, partitioned into the layout's pools (in the release's order)."""
    if layout == "single":
        return {ALL: tuple(queues)}
    return {pool: tuple(q for q in queues if pool_of(q) == pool) for pool in SPLIT}


def pools(queues: tuple[str, ...], layout: Layout, concurrency: dict[str, int]) -> tuple[WorkerPool, ...]:
    return tuple(
        WorkerPool(name, () if layout == "single" else own, concurrency[name], watched=own)
        for name, own in queues_by_pool(queues, layout).items()
    )


def single(queues: tuple[str, ...], concurrency: int) -> tuple[WorkerPool, ...]:
    return pools(queues, "single", {ALL: concurrency})


def connections(pool: WorkerPool, sql_pool: int, pgvector_pool: int) -> int:
    """PostgreSQL connections one pod of the pool may hold: a task holds at most one of each pool's, and the
    pools cap them (SQLALCHEMY_POOL_SIZE + MAX_OVERFLOW, PGVECTOR_MAX_CONNECTION)."""
    return min(pool.concurrency, sql_pool) + min(pool.concurrency, pgvector_pool)


def by_service(pools_: tuple[WorkerPool, ...]) -> dict[str, WorkerPool]:
    return {pool.service: pool for pool in pools_}


def find(pools_: tuple[WorkerPool, ...], name: str) -> Optional[WorkerPool]:
    return next((p for p in pools_ if p.name == name), None)
