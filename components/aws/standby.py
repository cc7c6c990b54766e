"""What the standby region holds before a disaster: RDS automated backups replicated there, and a
network to restore them into and run the standby stack in.

- Backup replication (`InstanceAutomatedBackupsReplication`): RDS copies the instance's snapshots and
  transaction logs to the standby region, re-encrypted with a KMS key of that region, and keeps them
  `retention_days`; a restore there reaches any point up to the latest replicated log (RDS reports it
  as the replicated backup's `RestoreWindow.LatestTime`, usually minutes behind the primary).
- The standby network: a VPC (the `Network` component, one NAT gateway), a DB subnet group over its
  private subnets and a security group that admits PostgreSQL from the VPC only. The restored
  instance goes there, and the standby stack uses the VPC as an existing one (aws.vpcId).
"""

from __future__ import annotations

from typing import Optional, Sequence

import pulumi
from components.aws.sdk import aws

from components.aws.network import Network

PORT = 5432


class StandbySite(pulumi.ComponentResource):
    def __init__(self, name: str, *, standby: aws.Provider, zones: Sequence[str], vpc_cidr: str,
                 source_db_arn: Optional[pulumi.Input[str]], backup_retention_days: int, production: bool,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:aws:StandbySite", name, None, opts)
        in_standby = pulumi.ResourceOptions(parent=self, provider=standby)

        self.network = Network(f"{name}-network", zones=zones, vpc_cidr=vpc_cidr, nat_per_zone=False,
                               opts=pulumi.ResourceOptions(parent=self, providers=[standby]))
        vpc = self.network.endpoint
        self.subnet_group = aws.rds.SubnetGroup(
            f"{name}-db-subnets", subnet_ids=vpc.private_subnet_ids,
            description=f"{name}: private subnets for the restored Dify database", opts=in_standby)
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-db-sg", vpc_id=vpc.vpc_id, description=f"{name}: PostgreSQL from the standby VPC only",
            revoke_rules_on_delete=True, opts=in_standby)
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-db-from-vpc", security_group_id=self.security_group.id, ip_protocol="tcp", from_port=PORT,
            to_port=PORT, cidr_ipv4=vpc.cidr, description="the standby VPC (EKS nodes and pods)", opts=in_standby)

        self.backup_key: Optional[aws.kms.Key] = None
        self.backups: Optional[aws.rds.InstanceAutomatedBackupsReplication] = None
        if source_db_arn is not None:
            # Without this key the replicated backups cannot be restored: kept like the data.
            self.backup_key = aws.kms.Key(
                f"{name}-backup-key", description=f"{name}: replicated RDS automated backups",
                enable_key_rotation=True, deletion_window_in_days=30,
                opts=pulumi.ResourceOptions(parent=self, provider=standby, protect=production))
            aws.kms.Alias(f"{name}-backup-key-alias", name=f"alias/{name}-backups",
                          target_key_id=self.backup_key.key_id, opts=in_standby)
            self.backups = aws.rds.InstanceAutomatedBackupsReplication(
                f"{name}-backups", source_db_instance_arn=source_db_arn, kms_key_id=self.backup_key.arn,
                retention_period=backup_retention_days,
                opts=pulumi.ResourceOptions(parent=self, provider=standby,
                                            custom_timeouts=pulumi.CustomTimeouts(create="75m", delete="75m")))
        self.register_outputs({"vpcId": vpc.vpc_id})
