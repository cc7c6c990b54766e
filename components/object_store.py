"""Object storage: a self-hosted S3-compatible store (SeaweedFS) or an external bucket.

SeaweedFS runs master, volume, filer and S3 gateway in one container. Its S3 identities come from
a JSON file; the start script creates the buckets once the gateway answers (creating an existing
bucket is a no-op), and the health check passes only when both buckets exist.
"""

from __future__ import annotations

import json
from typing import Optional

import pulumi

from components import images
from components.endpoints import ObjectStoreEndpoint
from components.runtime import Runtime
from components.secrets import generated_secret
from components.workload import DATA_NET, ConfigFile, HealthCheck, Port, ServiceSpec, StateMount
from stacks.config import ObjectStorageSettings

HOST, S3_PORT, FILER_PORT, MASTER_PORT = "object-store", 8333, 8888, 9333
REGION = "us-east-1"
DEFAULT_BUCKET, DEFAULT_PLUGIN_BUCKET = "dify", "dify-plugins"
IDENTITIES_PATH = "/etc/seaweedfs/s3.json"
START_PATH = "/etc/seaweedfs/start.sh"


def identities(access_key: str, secret_key: str) -> str:
    return json.dumps(
        {
            "identities": [
                {
                    "name": "dify",
                    "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        },
        indent=2,
    )


def start_script(buckets: tuple[str, ...]) -> str:
    creates = "\n".join(
        f'echo "s3.bucket.create -name {b}" | weed shell -master=127.0.0.1:{MASTER_PORT}' for b in buckets
    )
    return f"""#!/bin/sh
set -u
weed server -dir=/data -volume.max=0 -master.volumeSizeLimitMB=1024 -master.volumePreallocate=false \\
  -s3 -s3.port={S3_PORT} -s3.config={IDENTITIES_PATH} &
pid=$!
trap 'kill -TERM $pid' TERM INT
until wget -q -O /dev/null http://127.0.0.1:{S3_PORT}/healthz; do
  kill -0 $pid 2>/dev/null || exit 1
  sleep 1
done
{creates}
wait $pid
"""


def ready_check(buckets: tuple[str, ...]) -> tuple[str, ...]:
    probes = [f"wget -q -O /dev/null http://127.0.0.1:{S3_PORT}/healthz"] + [
        f"wget -q -O /dev/null http://127.0.0.1:{FILER_PORT}/buckets/{b}/" for b in buckets
    ]
    return ("CMD-SHELL", " && ".join(probes))


def object_store_spec(access_key: pulumi.Output[str], secret_key: pulumi.Output[str],
                      buckets: tuple[str, ...], mirror: Optional[str]) -> ServiceSpec:
    return ServiceSpec(
        name=HOST,
        upstream_name="object_store",
        image=images.image_ref(images.SEAWEEDFS, mirror),
        ports=(Port("s3", S3_PORT),),
        entrypoint=("/bin/sh", START_PATH),
        files=(
            ConfigFile(IDENTITIES_PATH, pulumi.Output.all(access_key, secret_key).apply(lambda a: identities(*a)),
                       secret=True),
            ConfigFile(START_PATH, start_script(buckets)),
        ),
        health=HealthCheck(port=S3_PORT, path="/healthz", command=ready_check(buckets), interval_s=5,
                           start_period_s=60, retries=12),
        state=(StateMount("object-store-data", "/data"),),
        networks=frozenset({DATA_NET}),
    )


class SelfHostedObjectStore(pulumi.ComponentResource):
    def __init__(self, name: str, settings: ObjectStorageSettings, runtime: Runtime, mirror: Optional[str],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:storage:SelfHostedObjectStore", name, None, opts)
        access_key = generated_secret(f"{name}-access-key", length=20, parent=self)
        secret_key = generated_secret(f"{name}-secret-key", length=40, parent=self)
        bucket = settings.bucket or DEFAULT_BUCKET
        plugin_bucket = settings.plugin_bucket or DEFAULT_PLUGIN_BUCKET
        buckets = tuple(dict.fromkeys((bucket, plugin_bucket)))
        self.spec = object_store_spec(access_key, secret_key, buckets, mirror)
        self.workload = runtime.run(self.spec, parent=self)
        self.endpoint = ObjectStoreEndpoint(
            kind="s3-compatible", bucket=bucket, plugin_bucket=plugin_bucket, region=REGION,
            endpoint=f"http://{HOST}:{S3_PORT}", access_key=access_key, secret_key=secret_key,
            path_style=True,
        )
        self.register_outputs({"endpoint": self.endpoint.endpoint, "buckets": list(buckets)})


def external_object_store(settings: ObjectStorageSettings) -> ObjectStoreEndpoint:
    assert settings.kind is not None and settings.bucket is not None

    def secret(value):
        return None if value is None else pulumi.Output.secret(value.get_secret_value())

    return ObjectStoreEndpoint(
        kind=settings.kind,
        bucket=settings.bucket,
        plugin_bucket=settings.plugin_bucket or settings.bucket,
        region=settings.region or REGION,
        endpoint=settings.endpoint,
        access_key=secret(settings.access_key),
        secret_key=secret(settings.secret_key),
        use_workload_identity=settings.use_workload_identity,
        path_style=settings.kind == "s3-compatible",
    )
