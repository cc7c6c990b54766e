"""PostgreSQL with pgvector: self-hosted (on the target's runtime) or an external server."""

from __future__ import annotations

from typing import Optional

import pulumi

from components import images
from components.endpoints import PostgresEndpoint
from components.runtime import Runtime
from components.secrets import generated_secret
from components.workload import APP_NET, DATA_NET, POSTGRES, ConfigFile, HealthCheck, Port, ServiceSpec, StateMount
from stacks.config import PostgresSettings

HOST, PORT = "postgres", 5432
# The default max_connections, checked against what Dify's processes may open (stacks.budget).
MAX_CONNECTIONS = 300
DATA_DIR = "/var/lib/postgresql/data"


def init_sql(settings: PostgresSettings) -> str:
    """Runs once, when the data directory is first initialised: both databases and the extension.
    pgvector's own database (when it has one) comes from a Job (`vector_database_spec`), which also
    makes it on a data directory that predates it."""
    return (
        f'CREATE DATABASE "{settings.plugin_database}";\n'
        f'\\connect "{settings.database}"\n'
        "CREATE EXTENSION IF NOT EXISTS vector;\n"
    )


def ready_check(settings: PostgresSettings) -> tuple[str, ...]:
    # TCP readiness means the final server is up (initdb's temporary one listens on the socket only);
    # the queries prove both databases and the extension exist.
    user, db, plugin_db = settings.user, settings.database, settings.plugin_database
    return (
        "CMD-SHELL",
        f"pg_isready -q -h 127.0.0.1 -U {user} -d {db}"
        f" && psql -U {user} -d {db} -tAc \"SELECT 1 FROM pg_extension WHERE extname='vector'\" | grep -q 1"
        f" && psql -U {user} -d {plugin_db} -tAc 'SELECT 1' | grep -q 1",
    )


def postgres_spec(settings: PostgresSettings, password: pulumi.Output[str], mirror: Optional[str]) -> ServiceSpec:
    return ServiceSpec(
        name=HOST,
        upstream_name="db_postgres",
        image=images.image_ref(images.POSTGRES_PGVECTOR, mirror),
        ports=(Port("postgres", PORT),),
        command=("postgres", "-c", f"max_connections={settings.max_connections or MAX_CONNECTIONS}",
                 "-c", "shared_buffers=256MB"),
        env={"POSTGRES_USER": settings.user, "POSTGRES_DB": settings.database, "PGDATA": f"{DATA_DIR}/pgdata"},
        secret_env={"POSTGRES_PASSWORD": password},
        health=HealthCheck(port=PORT, command=ready_check(settings), interval_s=5, start_period_s=60, retries=12),
        state=(StateMount("postgres-data", DATA_DIR),),
        files=(ConfigFile("/docker-entrypoint-initdb.d/10-dify.sql", init_sql(settings)),),
        networks=frozenset({DATA_NET}),
    )


class SelfHostedPostgres(pulumi.ComponentResource):
    def __init__(self, name: str, settings: PostgresSettings, runtime: Runtime, mirror: Optional[str],
                 vector_database: Optional[str] = None, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:postgres:SelfHostedPostgres", name, None, opts)
        password = generated_secret(f"{name}-password", parent=self)
        self.spec = postgres_spec(settings, password, mirror)
        self.workload = runtime.run(self.spec, parent=self)
        self.endpoint = PostgresEndpoint(
            host=HOST, port=PORT, user=settings.user, password=password,
            database=settings.database, plugin_database=settings.plugin_database,
            pgvector=True, ssl_mode="disable", vector_database=vector_database,
        )
        self.register_outputs({"host": HOST, "port": PORT})


def external_postgres(settings: PostgresSettings, vector_database: Optional[str] = None) -> PostgresEndpoint:
    """A server the user runs (e.g. a Pigsty cluster): the databases and `vector` must exist."""
    assert settings.host is not None and settings.password is not None
    return PostgresEndpoint(
        host=settings.host, port=settings.port, user=settings.user,
        password=pulumi.Output.secret(settings.password.get_secret_value()),
        database=settings.database, plugin_database=settings.plugin_database,
        pgvector=True, ssl_mode=settings.ssl_mode, ca_certificate=settings.ca_certificate,
        vector_database=vector_database,
    )


INIT_JOB = "db-init"


def vector_database_script(create: bool = True) -> list[str]:
    """Shell lines that make pgvector's own database (`$DIFY_VECTOR_DB`) if missing (`create`) and the
    extension in it, and prove it works; they run after the server answers."""
    return ([
        'psql -v ON_ERROR_STOP=1 -d "$DIFY_DB" -tAc '
        '"SELECT 1 FROM pg_database WHERE datname = \'$DIFY_VECTOR_DB\'" | grep -q 1 '
        '|| psql -v ON_ERROR_STOP=1 -d "$DIFY_DB" -c "CREATE DATABASE \\"$DIFY_VECTOR_DB\\""',
    ] if create else []) + [
        'psql -v ON_ERROR_STOP=1 -d "$DIFY_VECTOR_DB" -c "CREATE EXTENSION IF NOT EXISTS vector"',
        'psql -v ON_ERROR_STOP=1 -d "$DIFY_VECTOR_DB" -tAc "SELECT NULL::vector(3) IS NULL"',
    ]


def vector_database_spec(endpoint: PostgresEndpoint, mirror: Optional[str]) -> ServiceSpec:
    """pgvector's own database on the self-hosted server, made once the server answers (on a new data
    directory and on one that predates the setting alike)."""
    assert endpoint.vector_database is not None
    script = "\n".join(["set -eu", 'until pg_isready -q -d "$DIFY_DB"; do echo "waiting for PostgreSQL"; sleep 2; done',
                        *vector_database_script()])
    return database_init_spec(
        script, env={"PGHOST": endpoint.host, "PGPORT": str(endpoint.port), "PGUSER": endpoint.user,
                     "DIFY_DB": endpoint.database, "DIFY_VECTOR_DB": endpoint.vector_database},
        secret_env={"PGPASSWORD": endpoint.password}, mirror=mirror)


def database_init_spec(script: str, env: dict[str, pulumi.Input[str]], secret_env: dict[str, pulumi.Output[str]],
                       mirror: Optional[str]) -> ServiceSpec:
    """A run-once workload that prepares a managed server from inside the VPC with `psql` (the `app`
    network: it may leave the namespace to reach the database). Dify's migration waits for it."""
    return ServiceSpec(
        name=INIT_JOB,
        upstream_name="db_init",
        image=images.image_ref(images.POSTGRES_PGVECTOR, mirror),
        entrypoint=("/bin/sh", "-c"),
        command=(script,),
        env={"PGCONNECT_TIMEOUT": "10", **env},
        secret_env=secret_env,
        networks=frozenset({APP_NET}),
        run_once=True,
        data=frozenset({POSTGRES}),
    )
