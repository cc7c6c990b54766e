"""Tair (Redis OSS-compatible) in standard master-replica mode: Celery's broker breaks on cluster
mode (its keys land in different slots). A generated password (authentication on), a whitelist of
the VPC only, the replica in the second zone outside dev, release protection in production."""

from __future__ import annotations

from typing import Optional, Sequence

import pulumi
from components.alicloud.sdk import alicloud

from components.alicloud.common import cloud_name, complex_password, stateful, tags
from components.alicloud.network import AlicloudNetwork
from components.endpoints import RedisEndpoint
from stacks.config import RedisSettings
from stacks.settings_alicloud import KvstoreSettings, Sizing

PORT = 6379


class ManagedRedis(pulumi.ComponentResource):
    def __init__(self, name: str, settings: RedisSettings, kvstore: KvstoreSettings, sizing: Sizing,
                 network: AlicloudNetwork, whitelist: Sequence[str],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:alicloud:ManagedRedis", name, None, opts)
        zone_a, zone_b = network.zones
        self.password = complex_password(f"{name}-password", self)
        self.instance = alicloud.kvstore.Instance(
            f"{name}-redis",
            db_instance_name=cloud_name(f"{name}-redis"),
            instance_type="Redis",
            engine_version=kvstore.engine_version,
            instance_class=sizing.redis_instance_class,
            payment_type="PostPaid",
            zone_id=zone_a,
            secondary_zone_id=zone_b if sizing.multi_zone_data else None,
            vswitch_id=network.vswitch_ids[0],
            password=self.password,
            vpc_auth_mode="Open",
            security_ips=list(whitelist),
            # The broker's queues must not be evicted under memory pressure.
            config={"maxmemory-policy": "noeviction"},
            instance_release_protection=sizing.production,
            tags=tags(),
            opts=stateful(self, sizing.production, additional_secret_outputs=["password"]),
        )
        self.host = self.instance.connection_domain
        self.endpoint = RedisEndpoint(
            host=self.host, port=PORT, password=self.password, use_tls=settings.use_tls,
            db=settings.db, broker_db=settings.broker_db,
        )
        self.register_outputs({"host": self.host, "instanceId": self.instance.id})
