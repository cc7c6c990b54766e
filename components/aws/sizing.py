"""AWS sizes per `size` preset; every value can be overridden in the `aws` config section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class AwsPreset:
    node_instance_types: tuple[str, ...]
    node_min: int
    node_desired: int
    node_max: int
    rds_instance_class: str
    rds_storage_gb: int
    backup_retention_days: int
    cache_node_type: str
    cache_nodes: int  # primary + replicas (non-cluster mode)
    nat_per_zone: bool
    production: bool


PRESETS: dict[str, AwsPreset] = {
    # One node is enough for `dev`'s single replicas; two keep a node drain from stopping everything.
    "dev": AwsPreset(("t3.large",), 1, 2, 3, "db.t4g.medium", 20, 1, "cache.t4g.small", 1, False, False),
    "small": AwsPreset(("m6i.large",), 2, 2, 4, "db.t4g.large", 50, 7, "cache.t4g.medium", 2, False, False),
    # production requests about 5.5 vCPU / 10 GiB at minimum replicas and scales to ~3x under the HPAs.
    "production": AwsPreset(("m6i.xlarge",), 3, 3, 9, "db.m7g.xlarge", 100, 14, "cache.r7g.large", 2, True, True),
}


@dataclass(frozen=True)
class OpenSearchPreset:
    """The OpenSearch domain for `vectorStore.kind opensearch`: data nodes, gp3 volume per node, and in
    production three dedicated masters and zone awareness (nodes spread over the private subnets' zones)."""

    instance_type: str
    instance_count: int
    volume_gb: int
    dedicated_master_type: Optional[str]
    zone_awareness: bool


OPENSEARCH: dict[str, OpenSearchPreset] = {
    "dev": OpenSearchPreset("t3.medium.search", 1, 20, None, False),
    "small": OpenSearchPreset("r6g.large.search", 2, 50, None, False),
    "production": OpenSearchPreset("r6g.xlarge.search", 3, 200, "m6g.large.search", True),
}
