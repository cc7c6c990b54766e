"""Mock answers for aws data sources and computed outputs (tokens starting with `aws:`).

Shapes follow the provider's wire names; values look like what AWS returns in us-east-1 (zone names,
an assumed-role caller, an EKS OIDC issuer, RDS/ElastiCache endpoints, ACM validation records)."""

from __future__ import annotations

import hashlib
from typing import Any, Optional

ACCOUNT = "123456789012"
REGION = "us-east-1"
ZONES = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1f"]
DEPLOYER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/platform-deployer"
CALLER = f"arn:aws:sts::{ACCOUNT}:assumed-role/platform-deployer/ci-session"
HOSTED_ZONE_ID = "Z0123456789ABCDEFGHIJ"
ALB_ZONE_ID = "Z35SXDOTRQ7X7K"
OIDC_ID = "EXAMPLED539D4633E53DE1B71EXAMPLE"
ISSUER = f"https://oidc.eks.{REGION}.amazonaws.com/id/{OIDC_ID}"
CLUSTER_SG = "sg-0c1u5te7000000001"
SERVICE_CIDR = "172.20.0.0/16"
S3_PREFIXES = ["3.5.0.0/19", "52.216.0.0/15", "54.231.0.0/16"]
EXISTING_VPC_CIDR = "10.50.0.0/16"
ADDON_VERSION = "v4.4.0-eksbuild.1"
CLOUDFRONT_ORIGIN_FACING = "com.amazonaws.global.cloudfront.origin-facing"
CLOUDFRONT_PREFIX_LIST = "pl-3b927c52"
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"
LB_DNS = "k8s-dify-nginx-0123456789.us-east-1.elb.amazonaws.com"


def _suffix(name: str, n: int = 8) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:n]


def call(token: str, args: dict[str, Any]) -> Optional[dict[str, Any]]:
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {"accountId": ACCOUNT, "arn": CALLER, "id": ACCOUNT, "userId": "AROAEXAMPLEID:ci-session"}
    if token == "aws:index/getPartition:getPartition":
        return {"id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws"}
    if token == "aws:iam/getSessionContext:getSessionContext":
        return {"id": args["arn"], "arn": args["arn"], "issuerArn": DEPLOYER_ROLE, "issuerId": "AROAEXAMPLEID",
                "issuerName": "platform-deployer", "sessionName": "ci-session"}
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        return {"id": REGION, "names": ZONES, "zoneIds": [f"use1-az{i + 1}" for i in range(len(ZONES))],
                "groupNames": [REGION] * len(ZONES), "state": "available"}
    if token == "aws:route53/getZone:getZone":
        name = args["name"]
        return {"id": HOSTED_ZONE_ID, "zoneId": HOSTED_ZONE_ID, "name": name, "privateZone": False,
                "nameServers": [f"ns-{i}.awsdns-0{i}.net" for i in range(4)], "arn":
                f"arn:aws:route53:::hostedzone/{HOSTED_ZONE_ID}", "resourceRecordSetCount": 4}
    if token == "aws:lb/getHostedZoneId:getHostedZoneId":
        return {"id": ALB_ZONE_ID}
    if token == "aws:ec2/getManagedPrefixList:getManagedPrefixList" and args["name"] == CLOUDFRONT_ORIGIN_FACING:
        return {"id": CLOUDFRONT_PREFIX_LIST, "name": args["name"], "addressFamily": "IPv4", "maxEntries": 55,
                "ownerId": "AWS", "arn": f"arn:aws:ec2:{REGION}:aws:prefix-list/{CLOUDFRONT_PREFIX_LIST}",
                "version": 1, "entries": [{"cidr": "120.52.22.96/27", "description": ""}]}
    if token == "aws:ec2/getManagedPrefixList:getManagedPrefixList":
        return {"id": "pl-63a5400a", "name": args["name"], "addressFamily": "IPv4", "maxEntries": 0,
                "ownerId": "AWS", "arn": f"arn:aws:ec2:{REGION}:aws:prefix-list/pl-63a5400a", "version": 1,
                "entries": [{"cidr": c, "description": ""} for c in S3_PREFIXES]}
    if token == "aws:eks/getAddonVersion:getAddonVersion":
        return {"id": args["addonName"], "addonName": args["addonName"], "kubernetesVersion": args.get("kubernetesVersion"),
                "version": ADDON_VERSION}
    if token == "aws:lb/getLoadBalancer:getLoadBalancer":
        # The AWS Load Balancer Controller's ALB, found by the tags it sets.
        name = "k8s-" + args["tags"]["ingress.k8s.aws/stack"].replace("/", "-")[:20] + "-" + _suffix(str(args["tags"]), 10)
        lb_id = _suffix(name, 16)
        return {"id": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/{name}/{lb_id}",
                "arn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/{name}/{lb_id}",
                "arnSuffix": f"app/{name}/{lb_id}", "name": name, "dnsName": LB_DNS, "loadBalancerType": "application",
                "tags": args["tags"]}
    if token == "aws:lb/getTargetGroup:getTargetGroup":
        name = "k8s-" + _suffix(str(args["tags"]), 20)
        tg_id = _suffix(name, 16)
        return {"id": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{name}/{tg_id}",
                "arn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{name}/{tg_id}",
                "arnSuffix": f"targetgroup/{name}/{tg_id}", "name": name, "tags": args["tags"]}
    if token == "aws:ec2/getVpc:getVpc":
        return {"id": args["id"], "cidrBlock": EXISTING_VPC_CIDR, "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{args['id']}"}
    return None


# Resources the provider auto-names (`name` is an output unless given).
AUTONAMED = ("aws:rds/subnetGroup:SubnetGroup", "aws:rds/parameterGroup:ParameterGroup",
             "aws:elasticache/subnetGroup:SubnetGroup", "aws:elasticache/parameterGroup:ParameterGroup",
             "aws:ec2/securityGroup:SecurityGroup")


def state(typ: str, name: str, inputs: dict[str, Any]) -> Optional[dict[str, Any]]:
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
    if typ in AUTONAMED:
        return {"name": inputs.get("name") or f"{name}-{_suffix(name, 7)}"}
    if typ == "aws:eks/cluster:Cluster":
        cluster = inputs.get("name") or f"{name}-{_suffix(name, 7)}"
        return {
            "name": cluster, "arn": arn.format("eks", f"cluster/{cluster}"),
            "endpoint": f"https://{OIDC_ID}.gr7.{REGION}.eks.amazonaws.com",
            "certificateAuthority": {"data": "TU9DSy1FS1MtQ0E="},
            "identities": [{"oidcs": [{"issuer": ISSUER}]}],
            "vpcConfig": {**inputs.get("vpcConfig", {}), "clusterSecurityGroupId": CLUSTER_SG,
                          "vpcId": "vpc-0mock"},
            "kubernetesNetworkConfig": {"serviceIpv4Cidr": SERVICE_CIDR, "ipFamily": "ipv4"},
        }
    if typ == "aws:iam/role:Role":
        return {"arn": f"arn:aws:iam::{ACCOUNT}:role/{name}-{_suffix(name, 7)}", "name": f"{name}-{_suffix(name, 7)}"}
    if typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
        return {"arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.{REGION}.amazonaws.com/id/{OIDC_ID}"}
    if typ == "aws:kms/key:Key":
        return {"arn": arn.format("kms", f"key/{_suffix(name, 8)}-0000-0000-0000-000000000000")}
    if typ == "aws:ec2/launchTemplate:LaunchTemplate":
        return {"latestVersion": 1}
    if typ == "aws:rds/instance:Instance":
        identifier = f"{name}-{_suffix(name, 7)}"
        return {"identifier": identifier, "address": f"{identifier}.c9akciq32.{REGION}.rds.amazonaws.com",
                "endpoint": f"{identifier}.c9akciq32.{REGION}.rds.amazonaws.com:5432",
                "arn": arn.format("rds", f"db:{identifier}")}
    if typ == "aws:elasticache/replicationGroup:ReplicationGroup":
        group = f"{name}-{_suffix(name, 7)}"
        return {"id": group, "memberClusters": [f"{group}-{i + 1:03d}" for i in range(int(inputs.get("numCacheClusters", 1)))],
                "primaryEndpointAddress": f"master.{group}.abc123.use1.cache.amazonaws.com",
                "readerEndpointAddress": f"replica.{group}.abc123.use1.cache.amazonaws.com"}
    if typ == "aws:s3/bucket:Bucket":
        bucket = inputs.get("bucket") or f"{name}-{_suffix(name, 7)}"
        return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}
    if typ == "aws:ecr/repository:Repository":
        return {"repositoryUrl": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{inputs['name']}",
                "arn": arn.format("ecr", f"repository/{inputs['name']}")}
    if typ == "aws:acm/certificate:Certificate":
        domain = inputs["domainName"]
        return {"arn": arn.format("acm", f"certificate/{_suffix(name, 8)}-1111-2222-3333-444444444444"),
                "domainValidationOptions": [{
                    "domainName": domain, "resourceRecordName": f"_{_suffix(domain, 32)}.{domain}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": f"_{_suffix(domain + 'v', 32)}.mhbtsbpdnt.acm-validations.aws."}]}
    if typ == "aws:sns/topic:Topic":
        topic = f"{name}-{_suffix(name, 7)}"
        return {"arn": arn.format("sns", topic), "name": topic}
    if typ == "aws:opensearch/domain:Domain":
        domain = inputs["domainName"]
        return {"arn": arn.format("es", f"domain/{domain}"), "domainId": f"{ACCOUNT}/{domain}",
                "endpoint": f"vpc-{domain}-{_suffix(domain, 26)}.{REGION}.es.amazonaws.com"}
    if typ == "aws:cloudfront/distribution:Distribution":
        distribution = "E" + _suffix(name, 13).upper()
        return {"id": distribution, "arn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/{distribution}",
                "domainName": f"d{_suffix(name, 13)}.cloudfront.net", "hostedZoneId": CLOUDFRONT_ZONE_ID,
                "status": "Deployed"}
    if typ in ("aws:wafv2/webAcl:WebAcl", "aws:wafv2/ipSet:IpSet"):
        kind = "webacl" if typ.endswith("WebAcl") else "ipset"
        scope = "global" if inputs.get("scope") == "CLOUDFRONT" else "regional"
        acl_id = f"{_suffix(name, 8)}-0000-0000-0000-000000000000"
        return {"arn": f"arn:aws:wafv2:{REGION}:{ACCOUNT}:{scope}/{kind}/{name}/{acl_id}", "id": acl_id}
    if typ == "aws:cloudwatch/logGroup:LogGroup":
        return {"arn": arn.format("logs", f"log-group:{inputs.get('name') or name}")}
    if typ == "aws:route53/record:Record":
        return {"fqdn": str(inputs["name"]).rstrip(".")}
    return None
