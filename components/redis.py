"""Redis: self-hosted (password, append-only persistence) or an external server."""

from __future__ import annotations

from typing import Optional

import pulumi

from components import images
from components.endpoints import RedisEndpoint
from components.runtime import Runtime
from components.secrets import generated_secret
from components.workload import DATA_NET, HealthCheck, Port, ServiceSpec, StateMount
from stacks.config import RedisSettings

HOST, PORT = "redis", 6379


def redis_spec(password: pulumi.Output[str], mirror: Optional[str]) -> ServiceSpec:
    return ServiceSpec(
        name=HOST,
        upstream_name="redis",
        image=images.image_ref(images.REDIS, mirror),
        ports=(Port("redis", PORT),),
        # The password comes from the environment, not the container's command; the image's entrypoint
        # still drops root for redis-server.
        command=("sh", "-c",
                 'exec docker-entrypoint.sh redis-server --appendonly yes --requirepass "$REDIS_PASSWORD"'),
        secret_env={"REDIS_PASSWORD": password, "REDISCLI_AUTH": password},
        health=HealthCheck(port=PORT, command=("CMD-SHELL", "redis-cli ping | grep -q PONG"), interval_s=5,
                           start_period_s=10),
        state=(StateMount("redis-data", "/data"),),
        networks=frozenset({DATA_NET}),
    )


class SelfHostedRedis(pulumi.ComponentResource):
    def __init__(self, name: str, settings: RedisSettings, runtime: Runtime, mirror: Optional[str],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:redis:SelfHostedRedis", name, None, opts)
        password = generated_secret(f"{name}-password", parent=self)
        self.spec = redis_spec(password, mirror)
        self.workload = runtime.run(self.spec, parent=self)
        self.endpoint = RedisEndpoint(host=HOST, port=PORT, password=password, use_tls=False,
                                      db=settings.db, broker_db=settings.broker_db,
                                      agent_db=settings.agent_db)
        self.register_outputs({"host": HOST, "port": PORT})


def external_redis(settings: RedisSettings) -> RedisEndpoint:
    """A standalone or primary/replica server; cluster mode breaks Celery."""
    assert settings.host is not None and settings.password is not None
    return RedisEndpoint(
        host=settings.host, port=settings.port,
        password=pulumi.Output.secret(settings.password.get_secret_value()),
        username=settings.username, use_tls=settings.use_tls, db=settings.db, broker_db=settings.broker_db,
        agent_db=settings.agent_db,
    )
