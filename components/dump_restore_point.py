"""A restore point of self-hosted PostgreSQL: `pg_dump` of Dify's databases into the object store.

One run-once workload per release, in two steps that share a scratch directory: PostgreSQL's own image
(so `pg_dump` has the server's major version) dumps Dify's and the plugin daemon's databases (and
pgvector's, when it has its own) in the custom format; then the AWS CLI uploads them to `s3://<bucket>/restore-points/<release>/<UTC time>/`
and deletes all but the newest `keep` restore points under `restore-points/`. Dify's migration (and
every service that uses data) waits for it. Its spec changes only with the release (or a credential),
so another `pulumi up` of the same release takes none.
"""

from __future__ import annotations

from typing import Optional, Sequence

import pulumi

from components import images
from components.endpoints import ObjectStoreEndpoint, PostgresEndpoint
from components.runtime import Runtime
from components.workload import APP_NET, OBJECT_STORE, POSTGRES, ServiceSpec, StateMount

NAME, DUMP_STEP = "restore-point", "restore-point-dump"
SCRATCH = "/restore-point"
PREFIX = "restore-points"

# Both scripts read only their environment, so tests run the same text against a local server and store.
DUMP_SCRIPT = """set -eu
dir="${RESTORE_POINT_DIR:-/restore-point}"
rm -f "$dir"/*.dump "$dir/stamp"
until pg_isready -q -d "$DIFY_DB"; do echo "waiting for PostgreSQL"; sleep 2; done
for db in "$DIFY_DB" "$DIFY_PLUGIN_DB" ${DIFY_VECTOR_DB:+"$DIFY_VECTOR_DB"}; do
  pg_dump --format=custom --no-owner --dbname="$db" --file="$dir/$db.dump"
  echo "dumped $db: $(wc -c < "$dir/$db.dump") bytes"
done
date -u +%Y%m%dT%H%M%SZ > "$dir/stamp"
"""

UPLOAD_SCRIPT = """set -eu
dir="${RESTORE_POINT_DIR:-/restore-point}"
stamp=$(cat "$dir/stamp")
printf '[default]\\ns3 =\\n    addressing_style = %s\\n' "$S3_ADDRESSING_STYLE" > "${TMPDIR:-/tmp}/aws-config"
export AWS_CONFIG_FILE="${TMPDIR:-/tmp}/aws-config"
root="s3://$BUCKET/restore-points"
for db in "$DIFY_DB" "$DIFY_PLUGIN_DB" ${DIFY_VECTOR_DB:+"$DIFY_VECTOR_DB"}; do
  aws s3 cp --only-show-errors "$dir/$db.dump" "$root/$RELEASE/$stamp/$db.dump"
done
echo "restore point $root/$RELEASE/$stamp/"
# Keep the newest $KEEP restore points (release/time prefixes, ordered by time).
aws s3 ls --recursive "$root/" | awk '{print $4}' | awk -F/ 'NF == 4 {print $3 " " $2}' | sort -u \\
  | head -n "-$KEEP" | while read -r old release; do
    echo "pruning $root/$release/$old/"
    aws s3 rm --only-show-errors --recursive "$root/$release/$old/"
  done
rm -f "$dir"/*.dump "$dir/stamp"
"""

# Rolls one database back to a dump read on stdin: `sh -c "$RESTORE" sh <database> < <database>.dump`, run
# where psql and pg_restore reach the server (the postgres container or pod) with the writers stopped. The
# database is made anew, so tables a newer release created go with it; the dump recreates `vector`.
RESTORE_SCRIPT = """set -eu
psql -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS \\"$1\\" WITH (FORCE)" -c "CREATE DATABASE \\"$1\\""
pg_restore --no-owner --exit-on-error --single-transaction --dbname="$1"
"""


def postgres_env(postgres: PostgresEndpoint) -> tuple[dict[str, pulumi.Input[str]], dict[str, pulumi.Output[str]]]:
    env: dict[str, pulumi.Input[str]] = {
        "PGHOST": postgres.host, "PGPORT": pulumi.Output.from_input(postgres.port).apply(str),
        "PGUSER": postgres.user, "PGSSLMODE": postgres.ssl_mode, "PGCONNECT_TIMEOUT": "10",
        "DIFY_DB": postgres.database, "DIFY_PLUGIN_DB": postgres.plugin_database,
        **_vector_db(postgres),
    }
    return env, {"PGPASSWORD": postgres.password}


def _vector_db(postgres: PostgresEndpoint) -> dict[str, str]:
    return {"DIFY_VECTOR_DB": postgres.vector_database} if postgres.vector_database else {}


def store_env(store: ObjectStoreEndpoint) -> tuple[dict[str, pulumi.Input[str]], dict[str, pulumi.Output[str]]]:
    assert store.access_key is not None and store.secret_key is not None
    env: dict[str, pulumi.Input[str]] = {
        "BUCKET": store.bucket, "AWS_DEFAULT_REGION": store.region,
        "S3_ADDRESSING_STYLE": "path" if store.path_style else "virtual",
        # S3-compatible stores do not all take the CLI's default CRC checksums.
        "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required", "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
        "HOME": "/tmp",
    }
    if store.endpoint is not None:
        env["AWS_ENDPOINT_URL"] = store.endpoint
    return env, {"AWS_ACCESS_KEY_ID": store.access_key, "AWS_SECRET_ACCESS_KEY": store.secret_key}


def restore_point_spec(postgres: PostgresEndpoint, store: ObjectStoreEndpoint, release: str, keep: int,
                       mirror: Optional[str]) -> ServiceSpec:
    scratch = (StateMount("restore-point-files", SCRATCH),)
    pg_env, pg_secrets = postgres_env(postgres)
    s3_env, s3_secrets = store_env(store)
    dump = ServiceSpec(
        name=DUMP_STEP, upstream_name="restore_point_dump",
        image=images.image_ref(images.POSTGRES_PGVECTOR, mirror),
        entrypoint=("/bin/sh", "-c"), command=(DUMP_SCRIPT,),
        env={**pg_env, "RESTORE_POINT_DIR": SCRATCH}, secret_env=pg_secrets,
        state=scratch, networks=frozenset({APP_NET}), run_once=True, data=frozenset({POSTGRES}),
    )
    return ServiceSpec(
        name=NAME, upstream_name="restore_point",
        image=images.image_ref(images.AWS_CLI, mirror),
        entrypoint=("/bin/sh", "-c"), command=(UPLOAD_SCRIPT,),
        env={**s3_env, "RESTORE_POINT_DIR": SCRATCH, "RELEASE": release, "KEEP": str(keep),
             "DIFY_DB": postgres.database, "DIFY_PLUGIN_DB": postgres.plugin_database, **_vector_db(postgres)},
        secret_env=s3_secrets,
        state=scratch, networks=frozenset({APP_NET}), run_once=True, data=frozenset({OBJECT_STORE}),
        prepare=dump,
    )


class DumpRestorePoint(pulumi.ComponentResource):
    """The restore point of one release, taken once the database and the object store are ready."""

    def __init__(self, name: str, spec: ServiceSpec, runtime: Runtime, after: Sequence[pulumi.Resource],
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:restore:DumpRestorePoint", name, None, opts)
        self.spec = spec
        self.workload = runtime.run(spec, depends_on=list(after), parent=self)
        self.register_outputs({})
