"""ElastiCache (Valkey by default, or Redis OSS) as a replication group in non-cluster mode.

Celery's broker needs one keyspace (cluster mode spreads its keys over slots), so: one shard, a
primary and replicas in different zones, automatic failover and Multi-AZ when there is a replica.
Encryption at rest and in transit, an AUTH token (Dify: REDIS_USE_SSL, rediss:// broker URL with
certificate checks), `noeviction` so queued tasks are never dropped under memory pressure, daily
snapshots kept in production, reachable only from the cluster's security group.
"""

from __future__ import annotations

from typing import Literal, Optional, Sequence

import pulumi
from components.aws.sdk import aws
from components.aws.security import cluster_only_security_group
import pulumi_random as random

from components.endpoints import RedisEndpoint
from stacks.config import RedisSettings

PORT = 6379
ENGINES = {"valkey": ("8.1", "valkey8"), "redis": ("7.1", "redis7")}


class ElastiCacheRedis(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        settings: RedisSettings,
        *,
        engine: Literal["valkey", "redis"],
        node_type: str,
        nodes: int,
        production: bool,
        vpc_id: pulumi.Input[str],
        subnet_ids: Sequence[pulumi.Input[str]],
        client_security_group_id: pulumi.Input[str],
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__("dify:aws:ElastiCacheRedis", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        version, family = ENGINES[engine]

        subnets = aws.elasticache.SubnetGroup(f"{name}-subnets", subnet_ids=list(subnet_ids),
                                              description=f"{name}: private subnets", opts=child)
        self.security_group = cluster_only_security_group(
            name, vpc_id=vpc_id, port=PORT, service="Redis", client_security_group_id=client_security_group_id,
            parent=self)
        parameters = aws.elasticache.ParameterGroup(
            f"{name}-params", family=family, description=f"{name}: never evict queued tasks",
            parameters=[{"name": "maxmemory-policy", "value": "noeviction"}], opts=child)

        # AUTH tokens: 16-128 printable characters without @, " or /.
        self.password = pulumi.Output.secret(random.RandomPassword(
            f"{name}-auth-token", length=48, special=False, opts=child).result)
        replicated = nodes > 1
        self.group = aws.elasticache.ReplicationGroup(
            f"{name}-redis",
            description=f"{name}: Dify cache and Celery broker",
            engine=engine,
            engine_version=version,
            node_type=node_type,
            num_cache_clusters=nodes,
            cluster_mode="disabled",
            automatic_failover_enabled=replicated,
            multi_az_enabled=replicated,
            port=PORT,
            parameter_group_name=parameters.name,
            subnet_group_name=subnets.name,
            security_group_ids=[self.security_group.id],
            at_rest_encryption_enabled=True,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=self.password,
            auto_minor_version_upgrade=True,
            snapshot_retention_limit=7 if production else 0,
            final_snapshot_identifier=f"{name}-final" if production else None,
            apply_immediately=not production,
            opts=pulumi.ResourceOptions(parent=self, protect=production, additional_secret_outputs=["authToken"]),
        )
        self.host: pulumi.Output[str] = self.group.primary_endpoint_address
        self.endpoint = RedisEndpoint(
            host=self.host, port=PORT, password=self.password, use_tls=True,
            db=settings.db, broker_db=settings.broker_db,
        )
        self.register_outputs({"host": self.host, "replicationGroupId": self.group.id})
