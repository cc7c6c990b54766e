"""AnalyticDB for PostgreSQL as Dify's vector store (`vectorStore.kind analyticdb`).

An elastic-storage instance in the first node vSwitch, whitelisted for the VPC only, with the vector
engine optimization on, and one privileged account whose password is generated. Dify talks SQL to it
(ANALYTICDB_HOST set: no AccessKey and no OpenAPI): it creates its `knowledgebase` database, the
`zhparser` extension and the namespace schema itself, which needs the privileged (Super) account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi

from components.alicloud.common import cloud_name, complex_password, stateful, tags
from components.alicloud.network import AlicloudNetwork
from components.alicloud.sdk import alicloud
from components.endpoints import VectorStoreEndpoint

ACCOUNT = "dify_vectors"


@dataclass(frozen=True)
class AnalyticdbSize:
    engine_version: str
    category: str  # Basic | HighAvailability
    instance_spec: str
    segment_nodes: int
    storage_gb: int


# Elastic storage mode: Basic takes 2C8G/4C16G/8C32G/16C64G segments in multiples of 2; HighAvailability
# 2C16G/4C32G/16C128G in multiples of 4 (the pinned provider's documentation of the instance).
PRESETS: dict[str, AnalyticdbSize] = {
    "dev": AnalyticdbSize("7.0", "Basic", "2C8G", 2, 50),
    "small": AnalyticdbSize("7.0", "HighAvailability", "2C16G", 4, 100),
    "production": AnalyticdbSize("7.0", "HighAvailability", "4C32G", 4, 200),
}


class AnalyticdbVectors(pulumi.ComponentResource):
    def __init__(self, name: str, size: AnalyticdbSize, *, namespace: str, network: AlicloudNetwork,
                 whitelist: Sequence[pulumi.Input[str]], production: bool, max_connections: int,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:alicloud:AnalyticdbVectors", name, None, opts)
        self.instance = alicloud.gpdb.Instance(
            f"{name}-instance",
            description=cloud_name(name),
            db_instance_mode="StorageElastic",
            db_instance_category=size.category,
            engine="gpdb",
            engine_version=size.engine_version,
            instance_spec=size.instance_spec,
            seg_node_num=size.segment_nodes,
            seg_storage_type="cloud_essd",
            storage_size=size.storage_gb,
            payment_type="PayAsYouGo",
            zone_id=network.zones[0],
            vpc_id=network.vpc_id,
            vswitch_id=network.vswitch_ids[0],
            instance_network_type="VPC",
            ip_whitelists=[{"ip_group_name": "dify", "security_ip_list": pulumi.Output.all(*whitelist).apply(
                lambda cidrs: ",".join(cidrs))}],
            vector_configuration_status="enabled",
            tags=tags(),
            opts=stateful(self, production),
        )
        self.password = complex_password(f"{name}-password", self)
        self.account = alicloud.gpdb.Account(
            f"{name}-account", db_instance_id=self.instance.id, account_name=ACCOUNT, account_type="Super",
            account_password=self.password, account_description="Dify vector store",
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["accountPassword"]),
        )
        self.host: pulumi.Output[str] = self.instance.connection_string
        self.port: pulumi.Output[int] = self.instance.port.apply(lambda p: int(p or 5432))
        self.endpoint = VectorStoreEndpoint(
            "analyticdb", host=self.host, port=self.port, user=self.account.account_name, password=self.password,
            namespace=namespace, max_connections=max_connections)
        # What an alarm names: the instance.
        self.register_outputs({"instanceId": self.instance.id, "host": self.host})
