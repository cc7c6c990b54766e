"""RDS for PostgreSQL with pgvector, in the private subnets.

- PostgreSQL 17 by default (pgvector ships with RDS PostgreSQL); gp3 storage that grows on its own
  up to twice its size, encrypted; Multi-AZ, deletion protection, a final snapshot and `protect`
  in production; automated backups kept `backupRetentionDays`.
- TLS: RDS PostgreSQL 15+ sets `rds.force_ssl=1`; the parameter group says so explicitly, and Dify's
  api (libpq `prefer`) and plugin daemon (DB_SSL_MODE=require) both speak TLS.
- Reachable only from the cluster's security group, on 5432.
- RDS creates one database (`dify`) owned by the master user. A one-off Kubernetes Job, run inside
  the VPC (the deploy machine cannot reach private subnets), creates `dify_plugin` and the `vector`
  extension, and proves both before Dify migrates.
- Restore points (components.restore_points): a manual DB snapshot per kept point, named after the
  stack, the release and the upgrade; Dify's migration waits for the newest. Manual snapshots outlive
  the automated backup window and the instance; the program deletes one only when it falls off the
  kept list (or on `pulumi destroy`).
"""

from __future__ import annotations

from typing import Optional, Sequence

import pulumi
from components.aws.sdk import aws
from components.aws.security import cluster_only_security_group
import pulumi_random as random

from components.endpoints import PostgresEndpoint
from components.postgres import database_init_spec, vector_database_script
from components.restore_points import RestorePoint
from components.workload import ServiceSpec
from stacks.config import PostgresSettings

PORT = 5432


def init_script(vector_database: bool = False) -> str:
    """Waits for the server, creates the plugin database and `vector` if missing (and pgvector's own
    database with the extension, when it has one), and checks them."""
    return "\n".join([
        "set -eu",
        'until pg_isready -q -d "$DIFY_DB"; do echo "waiting for PostgreSQL"; sleep 5; done',
        'psql -v ON_ERROR_STOP=1 -d "$DIFY_DB" -tAc '
        '"SELECT 1 FROM pg_database WHERE datname = \'$DIFY_PLUGIN_DB\'" | grep -q 1 '
        '|| psql -v ON_ERROR_STOP=1 -d "$DIFY_DB" -c "CREATE DATABASE \\"$DIFY_PLUGIN_DB\\""',
        'psql -v ON_ERROR_STOP=1 -d "$DIFY_DB" -c "CREATE EXTENSION IF NOT EXISTS vector"',
        'psql -v ON_ERROR_STOP=1 -d "$DIFY_DB" -tAc "SELECT NULL::vector(3) IS NULL"',
        'psql -v ON_ERROR_STOP=1 -d "$DIFY_PLUGIN_DB" -tAc "SELECT 1"',
        *(vector_database_script() if vector_database else ()),
    ])


def parameter_family(version: str) -> str:
    return f"postgres{version.split('.')[0]}"


class RdsPostgres(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        settings: PostgresSettings,
        *,
        version: str,
        instance_class: str,
        storage_gb: int,
        backup_retention_days: int,
        production: bool,
        vpc_id: pulumi.Input[str],
        subnet_ids: Sequence[pulumi.Input[str]],
        client_security_group_id: pulumi.Input[str],
        vector_database: Optional[str] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__("dify:aws:RdsPostgres", name, None, opts)
        self.vector_database = vector_database
        self.settings = settings
        self._name = name
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=production)

        subnets = aws.rds.SubnetGroup(f"{name}-subnets", subnet_ids=list(subnet_ids),
                                      description=f"{name}: private subnets", opts=child)
        self.security_group = cluster_only_security_group(
            name, vpc_id=vpc_id, port=PORT, service="PostgreSQL", client_security_group_id=client_security_group_id,
            parent=self)
        parameters = aws.rds.ParameterGroup(
            f"{name}-params", family=parameter_family(version), description=f"{name}: TLS only",
            parameters=[{"name": "rds.force_ssl", "value": "1"}], opts=child)

        self.password = pulumi.Output.secret(random.RandomPassword(
            f"{name}-password", length=32, special=False, opts=child).result)
        self.instance = aws.rds.Instance(
            f"{name}-rds",
            engine="postgres",
            engine_version=version,
            auto_minor_version_upgrade=True,
            instance_class=instance_class,
            allocated_storage=storage_gb,
            max_allocated_storage=storage_gb * 2,
            storage_type="gp3",
            storage_encrypted=True,
            db_name=settings.database,
            username=settings.user,
            password=self.password,
            port=PORT,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[self.security_group.id],
            parameter_group_name=parameters.name,
            publicly_accessible=False,
            multi_az=production,
            backup_retention_period=backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=production,
            skip_final_snapshot=not production,
            final_snapshot_identifier=f"{name}-final" if production else None,
            performance_insights_enabled=True,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            apply_immediately=not production,
            opts=stateful,
        )
        self.host: pulumi.Output[str] = self.instance.address
        self.endpoint = PostgresEndpoint(
            host=self.host, port=PORT, user=settings.user, password=self.password,
            database=settings.database, plugin_database=settings.plugin_database,
            pgvector=True, ssl_mode="require", vector_database=vector_database,
        )
        self.register_outputs({"host": self.host, "identifier": self.instance.identifier})

    def snapshots(self, points: Sequence[RestorePoint]) -> list[aws.rds.Snapshot]:
        """A snapshot per restore point (a new one waits for the instance to be available)."""
        return [
            aws.rds.Snapshot(
                f"{self._name}-before-{point.release}-{point.ordinal}",
                db_instance_identifier=self.instance.identifier,
                db_snapshot_identifier=point.name,
                tags={"dify-release": point.release, "dify-restore-point": str(point.ordinal)},
                opts=pulumi.ResourceOptions(parent=self, custom_timeouts=pulumi.CustomTimeouts(create="2h")),
            )
            for point in points
        ]

    def init_spec(self, mirror: Optional[str]) -> ServiceSpec:
        return database_init_spec(
            init_script(self.vector_database is not None),
            env={"PGHOST": self.host, "PGPORT": str(PORT), "PGUSER": self.settings.user, "PGSSLMODE": "require",
                 "DIFY_DB": self.settings.database, "DIFY_PLUGIN_DB": self.settings.plugin_database,
                 **({"DIFY_VECTOR_DB": self.vector_database} if self.vector_database else {})},
            secret_env={"PGPASSWORD": self.password},
            mirror=mirror,
        )
