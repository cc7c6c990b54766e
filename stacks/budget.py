"""The PostgreSQL connection budget: what Dify's processes may open at once against what the database
allows, checked from config before anything is declared.

Needed: for every client of the database server (api, each worker pool, beat, the websocket server, the
migration Jobs, the plugin daemon, which uses `dify_plugin` on the same server), its connections per
pod (a worker pod: its concurrency, up to its connection pools' caps) times its most pods: the
autoscaler's maximum (or the replica count), plus one more pod during a rolling update (maxSurge 1). Allowed: the server's `max_connections` less 10 % and the connections
PostgreSQL (3) and RDS (3, rdsadmin) keep for themselves.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from components.dify.concurrency import CONCURRENCY
from components.dify.workers import connections as worker_connections
from components.postgres import MAX_CONNECTIONS as SELF_HOSTED_MAX_CONNECTIONS
from stacks import pools

if TYPE_CHECKING:
    from stacks.config import StackConfig

RESERVED = 6
# RDS for PostgreSQL's default: LEAST(DBInstanceClassMemory / 9531392, 5000), with the class memory
# less what RDS keeps for the OS (about 10 %).
RDS_BYTES_PER_CONNECTION = 9531392
_RDS_CLASS = re.compile(r"^db\.(?P<family>[a-z]+)(?P<generation>\d+)[a-z]*\.(?P<size>[a-z0-9]+)$")
_SIZE_GIB = {"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16}
_FAMILY_FACTOR = {"t": 1, "m": 1, "r": 2}


@dataclass(frozen=True)
class Budget:
    needed: dict[str, int]
    limit: Optional[int]
    where: str
    key: str

    @property
    def total(self) -> int:
        return sum(self.needed.values())

    @property
    def usable(self) -> Optional[int]:
        return None if self.limit is None else math.floor(self.limit * 0.9) - RESERVED

    @property
    def fits(self) -> bool:
        return self.usable is None or self.total <= self.usable


def rds_class_memory_gib(instance_class: str) -> Optional[int]:
    """The memory of an RDS class in GiB (None for a class this table does not know)."""
    match = _RDS_CLASS.match(instance_class)
    if not match or match["family"] not in _FAMILY_FACTOR:
        return None
    size = match["size"]
    if size in _SIZE_GIB:
        gib = _SIZE_GIB[size]
    elif size.endswith("xlarge") and size[:-6].isdigit():
        gib = 16 * int(size[:-6])
    else:
        return None
    return gib * _FAMILY_FACTOR[match["family"]]


def rds_max_connections(instance_class: str) -> Optional[int]:
    """The default max_connections of an RDS class (None for a class this table does not know)."""
    gib = rds_class_memory_gib(instance_class)
    if gib is None:
        return None
    memory = gib * 2**30 * 0.9
    return min(int(memory // RDS_BYTES_PER_CONNECTION), 5000)


def needed_connections(config: "StackConfig") -> dict[str, int]:
    concurrency = CONCURRENCY[config.size]
    per_pod = {
        "api": concurrency.api_processes * concurrency.per_process,
        "beat": concurrency.per_process,
        "plugin-daemon": concurrency.daemon_connections,
    }
    for pool in pools.worker_pools(config):
        per_pod[pool.service] = worker_connections(pool, concurrency.db_pool + concurrency.db_overflow,
                                                   concurrency.pgvector_pool)
    if "collaboration" in config.dify.release.features:
        per_pod["api-websocket"] = concurrency.per_process
    cluster = config.target != "docker"
    if cluster:
        per_pod["migrate"] = concurrency.per_process
        if config.dify.release.daemon_migrates_apart:
            per_pod["plugin-migrate"] = concurrency.daemon_connections
    sizes = pools.sizing(config)
    needed = {}
    for name, connections in per_pod.items():
        size = sizes.of(name)
        if not cluster or name in ("migrate", "plugin-migrate"):
            pods = 1
        elif name == "beat":
            pods = 1  # a singleton, recreated rather than rolled
        else:
            pods = (size.max_replicas or size.replicas) + 1
        needed[name] = pods * connections
    return needed


def database_limit(config: "StackConfig") -> tuple[Optional[int], str, str]:
    """(max_connections, what it is, the key that changes it); None where it cannot be known from config."""
    pg = config.postgres
    if pg.mode == "self-hosted":
        return (pg.max_connections or SELF_HOSTED_MAX_CONNECTIONS, "the self-hosted PostgreSQL",
                "postgres.maxConnections")
    if pg.mode == "external":
        return pg.max_connections, "the external PostgreSQL (postgres.maxConnections)", "postgres.maxConnections"
    if config.target == "aws" and config.aws is not None:
        from components.aws.sizing import PRESETS as AWS_PRESETS

        instance_class = config.aws.rds_instance_class or AWS_PRESETS[config.size].rds_instance_class
        return rds_max_connections(instance_class), f"RDS {instance_class}", "aws.rdsInstanceClass"
    # ApsaraDB RDS sets max_connections per instance type, from a table this program does not hold.
    return None, "ApsaraDB RDS", "alicloud.rds.instanceType"


def budget(config: "StackConfig") -> Budget:
    limit, where, key = database_limit(config)
    return Budget(needed_connections(config), limit, where, key)


def problem(config: "StackConfig") -> Optional[tuple[str, str]]:
    """(key, message) when Dify at its replica maximums would open more connections than the database allows."""
    result = budget(config)
    if result.fits:
        return None
    breakdown = ", ".join(f"{name} {count}" for name, count in sorted(result.needed.items()))
    return result.key, (
        f"at the {config.size} preset's replica maximums Dify may open {result.total} PostgreSQL connections "
        f"({breakdown}), more than {result.where} allows: max_connections {result.limit}, {result.usable} after "
        f"10 % headroom and reserved connections. Change {result.key} to a database that allows more, or pick "
        "a smaller `size`"
    )
