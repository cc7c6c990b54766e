"""Picks the backend of each data service from its mode; every backend hands out the same endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components.endpoints import DataEndpoints
from components.object_store import SelfHostedObjectStore, external_object_store
from components.postgres import SelfHostedPostgres, external_postgres
from components.redis import SelfHostedRedis, external_redis
from components.runtime import Runtime
from stacks.config import StackConfig


@dataclass(frozen=True)
class DataServices:
    endpoints: DataEndpoints
    workloads: list[pulumi.Resource]
    internal: dict[str, str]


def self_hosted_or_external(name: str, config: StackConfig, runtime: Runtime) -> DataServices:
    """Data services for targets without managed ones (Docker, an existing cluster)."""
    mirror: Optional[str] = config.registry.mirror
    workloads: list[pulumi.Resource] = []
    internal: dict[str, str] = {}

    if config.postgres.mode == "self-hosted":
        pg = SelfHostedPostgres(f"{name}-postgres", config.postgres, runtime, mirror)
        workloads.append(pg.workload)
        internal["postgres"] = pg.spec.address
        postgres = pg.endpoint
    else:
        postgres = external_postgres(config.postgres)

    if config.redis.mode == "self-hosted":
        rd = SelfHostedRedis(f"{name}-redis", config.redis, runtime, mirror)
        workloads.append(rd.workload)
        internal["redis"] = rd.spec.address
        redis = rd.endpoint
    else:
        redis = external_redis(config.redis)

    if config.object_storage.mode == "self-hosted":
        store = SelfHostedObjectStore(f"{name}-object-store", config.object_storage, runtime, mirror)
        workloads.append(store.workload)
        internal["object-store"] = store.spec.address
        object_store = store.endpoint
    else:
        object_store = external_object_store(config.object_storage)

    return DataServices(DataEndpoints(postgres, redis, object_store), workloads, internal)
