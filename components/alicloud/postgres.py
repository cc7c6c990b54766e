"""ApsaraDB RDS for PostgreSQL with pgvector.

- PostgreSQL 16 by default (pgvector is available on RDS PostgreSQL 14 and later);
  High-Availability category in production with the standby in the second zone; ESSD storage
  with auto-scaling; the whitelist names only the VPC (and Flannel's pod CIDR); deletion
  protection and `protect` in production.
- Databases `dify` and `dify_plugin` (the plugin daemon cannot create its own on RDS), an
  application account that owns both (DBOwner), and a privileged account used only by a one-off
  Kubernetes Job that runs inside the VPC and creates the `vector` extension: CREATE EXTENSION
  needs a privileged account on RDS, and the database is not reachable from outside the VPC.
- Restore points (components.restore_points): a full physical backup set per kept point; Dify's
  migration waits for the newest. Backup sets of cloud-disk instances cannot be deleted by API
  (`store_status` Disabled): a point that falls off the kept list leaves the state only
  (`remove_from_state`) and expires with the instance's backup retention.
"""

from __future__ import annotations

from typing import Optional, Sequence

import pulumi
from components.alicloud.sdk import alicloud

from components.alicloud.common import cloud_name, complex_password, stateful, tags
from components.alicloud.network import AlicloudNetwork
from components.endpoints import PostgresEndpoint
from components.postgres import database_init_spec, vector_database_script
from components.restore_points import RestorePoint
from components.workload import ServiceSpec
from stacks.config import PostgresSettings
from stacks.settings_alicloud import RdsSettings, Sizing

PORT = 5432
ADMIN_USER = "dify_admin"


def init_script(vector_database: bool = False) -> str:
    """Waits for the server, creates `vector` in Dify's database (and in pgvector's own, when it has
    one), and proves the databases exist and the application account can use them (the Job fails, and
    the rollout stops, otherwise)."""
    return "\n".join([
        "set -eu",
        'until pg_isready -q -d "$DIFY_DB"; do echo "waiting for PostgreSQL"; sleep 5; done',
        'psql -v ON_ERROR_STOP=1 -d "$DIFY_DB" -c "CREATE EXTENSION IF NOT EXISTS vector"',
        'psql -v ON_ERROR_STOP=1 -d "$DIFY_DB" -tAc "SELECT extversion FROM pg_extension WHERE extname = \'vector\'"',
        'psql -v ON_ERROR_STOP=1 -d "$DIFY_PLUGIN_DB" -tAc "SELECT 1"',
        'PGUSER="$APP_USER" PGPASSWORD="$APP_PASSWORD" psql -v ON_ERROR_STOP=1 -d "$DIFY_DB" '
        '-tAc "SELECT NULL::vector(3) IS NULL"',
        'PGUSER="$APP_USER" PGPASSWORD="$APP_PASSWORD" psql -v ON_ERROR_STOP=1 -d "$DIFY_PLUGIN_DB" -tAc "SELECT 1"',
        *((*vector_database_script(create=False),
           'PGUSER="$APP_USER" PGPASSWORD="$APP_PASSWORD" psql -v ON_ERROR_STOP=1 -d "$DIFY_VECTOR_DB" '
           '-tAc "SELECT NULL::vector(3) IS NULL"') if vector_database else ()),
    ])


class ManagedPostgres(pulumi.ComponentResource):
    def __init__(self, name: str, settings: PostgresSettings, rds: RdsSettings, sizing: Sizing,
                 network: AlicloudNetwork, whitelist: Sequence[str], vector_database: Optional[str] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:alicloud:ManagedPostgres", name, None, opts)
        self.vector_database = vector_database
        self.settings = settings
        self._name = name
        ha = sizing.rds_category == "HighAvailability"
        zone_a, zone_b = network.zones
        vswitches = (pulumi.Output.all(*network.vswitch_ids).apply(lambda ids: ",".join(ids[:2])) if ha
                     else network.vswitch_ids[0])
        self.instance = alicloud.rds.Instance(
            f"{name}-rds",
            instance_name=cloud_name(f"{name}-rds"),
            engine="PostgreSQL",
            engine_version=rds.engine_version,
            instance_type=sizing.rds_instance_type,
            instance_storage=sizing.rds_storage_gb,
            db_instance_storage_type=rds.storage_type,
            category=sizing.rds_category,
            instance_charge_type="Postpaid",
            zone_id=zone_a,
            # The standby lives in the second zone (HighAvailability); vswitch_id lists one
            # vSwitch per zone, in the same order.
            zone_id_slave_a=zone_b if ha else None,
            vswitch_id=vswitches,
            vpc_id=network.vpc_id,
            security_ips=list(whitelist),
            storage_auto_scale="Enable",
            storage_threshold=20,
            storage_upper_bound=max(sizing.rds_storage_gb * 2, 100),
            deletion_protection=sizing.production,
            auto_upgrade_minor_version="Auto",
            tags=tags(),
            opts=stateful(self, sizing.production),
        )
        self.databases = [
            alicloud.rds.Database(
                f"{name}-db-{db.replace('_', '-')}", instance_id=self.instance.id, data_base_name=db,
                character_set="UTF8", description="Dify", opts=stateful(self, sizing.production),
            )
            for db in (settings.database, settings.plugin_database, *([vector_database] if vector_database else []))
        ]
        self.password = complex_password(f"{name}-app-password", self)
        app = alicloud.rds.Account(
            f"{name}-app", db_instance_id=self.instance.id, account_name=settings.user,
            account_password=self.password, account_type="Normal", account_description="Dify",
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["accountPassword"]),
        )
        self.admin_password = complex_password(f"{name}-admin-password", self)
        self.admin = alicloud.rds.Account(
            f"{name}-admin", db_instance_id=self.instance.id, account_name=ADMIN_USER,
            account_password=self.admin_password, account_type="Super",
            account_description="Dify: creates the vector extension (used by the db-init Job only)",
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["accountPassword"]),
        )
        self.privilege = alicloud.rds.AccountPrivilege(
            f"{name}-app-owner", instance_id=self.instance.id, account_name=app.account_name,
            db_names=[db.data_base_name for db in self.databases], privilege="DBOwner",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ready: list[pulumi.Resource] = [*self.databases, app, self.admin, self.privilege]
        self.host = self.instance.connection_string
        self.port = self.instance.port.apply(lambda p: int(p) if p else PORT)
        self.endpoint = PostgresEndpoint(
            host=self.host, port=self.port, user=settings.user, password=self.password,
            database=settings.database, plugin_database=settings.plugin_database,
            pgvector=True, ssl_mode=settings.ssl_mode, vector_database=vector_database,
        )
        self.register_outputs({"host": self.host, "instanceId": self.instance.id})

    def backups(self, points: Sequence[RestorePoint]) -> list[alicloud.rds.RdsBackup]:
        """A full backup set per restore point, taken once the databases and accounts exist."""
        return [
            alicloud.rds.RdsBackup(
                f"{self._name}-before-{point.release}-{point.ordinal}",
                db_instance_id=self.instance.id,
                backup_method="Physical",
                backup_type="FullBackup",
                remove_from_state=True,
                opts=pulumi.ResourceOptions(parent=self, depends_on=self.ready,
                                            custom_timeouts=pulumi.CustomTimeouts(create="2h")),
            )
            for point in points
        ]

    def init_spec(self, mirror: Optional[str]) -> ServiceSpec:
        return database_init_spec(
            init_script(self.vector_database is not None),
            env={"PGHOST": self.host, "PGPORT": self.port.apply(str), "PGUSER": ADMIN_USER,
                 "DIFY_DB": self.settings.database, "DIFY_PLUGIN_DB": self.settings.plugin_database,
                 "APP_USER": self.settings.user,
                 **({"DIFY_VECTOR_DB": self.vector_database} if self.vector_database else {})},
            secret_env={"PGPASSWORD": self.admin_password, "APP_PASSWORD": self.password},
            mirror=mirror,
        )
