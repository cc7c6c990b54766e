"""Mock answers for alicloud data sources and computed outputs (tokens starting with `alicloud:`).

Shapes follow the provider's wire names; values look like what Alibaba Cloud returns (zone IDs
of cn-hangzhou, RDS/Tair connection domains, a CLB's public IPv4 address, ACR EE endpoints)."""

from __future__ import annotations

import hashlib
from typing import Any, Optional

from tools.mocks.wire import secret

REGION = "cn-hangzhou"
ZONES = ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j", "cn-hangzhou-k"]
LB_ADDRESS = "47.98.120.33"
NAT_EIP = "47.98.7.201"
# The AccessKey the mock RAM returns (tests look for it outside Secrets).
ACCESS_KEY_ID = "LTAI5tMockAccessKeyId01"
ACCESS_KEY_SECRET = "MockAccessKeySecretValue0123456789"
KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://47.98.11.12:6443
    certificate-authority-data: TU9DSy1DQQ==
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: "2760000000000000"
  name: 2760000000000000-c0ffee
current-context: 2760000000000000-c0ffee
users:
- name: "2760000000000000"
  user:
    client-certificate-data: TU9DSy1DRVJU
    client-key-data: TU9DSy1LRVk=
"""


def _suffix(name: str, n: int = 16) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:n]


def call(token: str, args: dict[str, Any]) -> Optional[dict[str, Any]]:
    if token == "alicloud:index/getZones:getZones":
        zones = [{"id": z, "localName": z, "availableResourceCreations": ["VSwitch", "Instance", "Disk"],
                  "availableInstanceTypes": [args.get("availableInstanceType") or "ecs.g7.2xlarge"],
                  "multi": False, "multiZoneIds": [], "slbSlaveZoneIds": [], "availableDiskCategories": ["cloud_essd"]}
                 for z in ZONES]
        return {"id": REGION, "ids": ZONES, "zones": zones}
    if token == "alicloud:cs/getClusterCredential:getClusterCredential":
        cluster = args.get("clusterId") or "c-mock"
        return {"id": cluster, "clusterId": cluster, "clusterName": "dify", "kubeConfig": KUBECONFIG,
                "certificateAuthorities": [{"clusterCert": "TU9DSy1DQQ==", "clientCert": "TU9DSy1DRVJU",
                                            "clientKey": "TU9DSy1LRVk="}],
                "expiration": "2028-01-01T00:00:00Z"}
    if token.startswith("alicloud:"):
        return {}
    return None


def state(typ: str, name: str, inputs: dict[str, Any]) -> Optional[dict[str, Any]]:
    suffix = _suffix(name)
    if typ == "random:index/randomString:RandomString":
        return {"result": _suffix(name, int(inputs.get("length", 8)))}
    if not typ.startswith("alicloud:"):
        return None
    if typ == "alicloud:rds/instance:Instance":
        return {"connectionString": f"pgm-bp1{suffix[:13]}.pg.rds.aliyuncs.com", "port": "5432",
                "status": "Running", "zoneIdSlaveA": inputs.get("zoneIdSlaveA")}
    if typ == "alicloud:gpdb/instance:Instance":
        return {"connectionString": f"gp-bp1{suffix[:13]}-master.gpdb.rds.aliyuncs.com", "port": "5432",
                "status": "Running"}
    if typ == "alicloud:ots/instance:Instance":
        return {"name": inputs.get("name")}
    if typ == "alicloud:rds/rdsBackup:RdsBackup":
        # What the provider reads back once the backup job finished: cloud-disk backups cannot be deleted.
        return {"backupId": f"{int(hashlib.sha1(name.encode()).hexdigest()[:8], 16)}", "storeStatus": "Disabled"}
    if typ == "alicloud:kvstore/instance:Instance":
        return {"connectionDomain": f"r-bp1{suffix[:13]}.redis.rds.aliyuncs.com", "port": 6379, "status": "Normal"}
    if typ == "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer":
        return {"address": LB_ADDRESS, "status": "active"}
    if typ == "alicloud:cdn/domainNew:DomainNew":
        return {"cname": f"{inputs['domainName']}.w.cdngslb.com", "status": "online"}
    if typ == "alicloud:wafv3/domain:Domain":
        return {"cname": f"{suffix[:24]}.yundunwaf5.com", "domainId": f"{inputs['domain']}-waf", "status": 1}
    if typ == "alicloud:wafv3/defenseTemplate:DefenseTemplate":
        return {"defenseTemplateId": int(suffix[:6], 16)}
    if typ == "alicloud:ecs/eipAddress:EipAddress":
        return {"ipAddress": NAT_EIP, "status": "Available"}
    if typ == "alicloud:vpc/natGateway:NatGateway":
        return {"snatTableIds": f"stb-bp1{suffix[:13]}", "forwardTableIds": f"ftb-bp1{suffix[:13]}"}
    if typ == "alicloud:cs/managedKubernetes:ManagedKubernetes":
        return {"vpcId": "vpc-bp1mock", "slbId": f"lb-bp1{suffix[:13]}", "workerRamRoleName": "KubernetesWorkerRole-mock",
                "rrsaMetadata": {"enabled": True, "rrsaOidcIssuerUrl": f"https://oidc-ack-{REGION}.oss-{REGION}.aliyuncs.com/c{suffix}",
                                 "ramOidcProviderName": f"ack-rrsa-c{suffix}",
                                 "ramOidcProviderArn": f"acs:ram::2760000000000000:oidc-provider/ack-rrsa-c{suffix}"}}
    if typ == "alicloud:cs/nodePool:NodePool":
        return {"nodePoolId": f"np{suffix}", "scalingGroupId": f"asg-bp1{suffix[:13]}"}
    if typ == "alicloud:oss/bucket:Bucket":
        bucket = inputs.get("bucket")
        return {"extranetEndpoint": f"oss-{REGION}.aliyuncs.com", "intranetEndpoint": f"oss-{REGION}-internal.aliyuncs.com",
                "location": f"oss-{REGION}", "owner": "2760000000000000", "creationDate": "2026-01-01", "bucket": bucket}
    if typ == "alicloud:ram/accessKey:AccessKey":
        return {"secret": secret(ACCESS_KEY_SECRET), "status": "Active"}
    if typ == "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance":
        instance = inputs.get("instanceName")
        return {"status": "RUNNING", "instanceEndpoints": [
            {"endpointType": "internet", "enable": False,
             "domains": [{"domain": f"{instance}-registry.{REGION}.cr.aliyuncs.com", "type": "SYSTEM"}]},
            {"endpointType": "vpc", "enable": True,
             "domains": [{"domain": f"{instance}-registry-vpc.{REGION}.cr.aliyuncs.com", "type": "SYSTEM"}]},
        ]}
    return None
