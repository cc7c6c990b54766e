"""TableStore (OTS) as Dify's vector store (`vectorStore.kind tablestore`).

An instance reachable from the attached VPC only (plus the console's trusted proxy), bound to the first
node vSwitch. Dify's TableStore client takes a static AccessKey pair (TABLESTORE_ACCESS_KEY_ID /
_SECRET) and no RRSA credential chain, so a RAM user whose only policy is this instance gets one key,
kept as a secret.
"""

from __future__ import annotations

import json
import re
from typing import Optional

import pulumi
import pulumi_random as random

from components.alicloud.common import cloud_name, tags
from components.alicloud.network import AlicloudNetwork
from components.alicloud.sdk import alicloud
from components.endpoints import VectorStoreEndpoint


def instance_name(prefix: str, unique: str) -> str:
    """3-16 characters: letters, digits and hyphens, starting with a letter, not ending with a hyphen. The
    name is the endpoint's host name in the region, so it carries a random part."""
    return f"{re.sub(r'[^a-z0-9-]', '', prefix.lower())[:10].rstrip('-')}-{unique}"


def vpc_binding_name(name: str) -> str:
    """3-16 letters and digits, starting with a letter."""
    return re.sub(r"[^a-z0-9]", "", name.lower())[:16]


def vpc_endpoint(instance: str, region: str) -> str:
    return f"https://{instance}.{region}.vpc.tablestore.aliyuncs.com"


def instance_policy(instance: str) -> str:
    """A RAM policy that reaches this instance and its tables and nothing else."""
    return json.dumps({"Version": "1", "Statement": [{
        "Effect": "Allow", "Action": ["ots:*"],
        "Resource": [f"acs:ots:*:*:instance/{instance}", f"acs:ots:*:*:instance/{instance}/table/*"],
    }]}, sort_keys=True)


class TablestoreVectors(pulumi.ComponentResource):
    def __init__(self, name: str, *, instance_type: str, region: str, network: AlicloudNetwork, production: bool,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:alicloud:TablestoreVectors", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        unique = random.RandomString(f"{name}-suffix", length=5, upper=False, special=False, opts=child).result
        self.instance = alicloud.ots.Instance(
            f"{name}-instance", name=unique.apply(lambda u: instance_name(name, u)), description="Dify vector store",
            instance_type=instance_type, accessed_by="Vpc", network_type_acls=["VPC"],
            network_source_acls=["TRUST_PROXY"], tags=tags(),
            opts=pulumi.ResourceOptions(parent=self, protect=production),
        )
        alicloud.ots.InstanceAttachment(
            f"{name}-vpc", instance_name=self.instance.name, vpc_name=vpc_binding_name(name),
            vswitch_id=network.vswitch_ids[0], opts=child)
        policy = alicloud.ram.Policy(
            f"{name}-policy", policy_name=cloud_name(f"{name}-ots-instance", 128),
            policy_document=self.instance.name.apply(instance_policy),
            description="Dify: the one TableStore instance of its vector store", opts=child)
        user = alicloud.ram.User(f"{name}-user", name=cloud_name(f"{name}-ots", 64), display_name="Dify vector store",
                                 comments="Reaches only the Dify TableStore instance", opts=child)
        alicloud.ram.UserPolicyAttachment(f"{name}-user-policy", user_name=user.name, policy_name=policy.policy_name,
                                          policy_type="Custom", opts=child)
        key = alicloud.ram.AccessKey(f"{name}-key", user_name=user.name, status="Active",
                                     opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["secret"]))
        self.url: pulumi.Output[str] = self.instance.name.apply(lambda n: vpc_endpoint(n, region))
        self.endpoint = VectorStoreEndpoint(
            "tablestore", url=self.url, instance_name=self.instance.name,
            access_key_id=pulumi.Output.secret(key.id), access_key_secret=pulumi.Output.secret(key.secret))
        # What an alarm names: the instance.
        self.register_outputs({"instanceName": self.instance.name, "endpoint": self.url})
