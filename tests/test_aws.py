"""The `aws` target under mocks: Pulumi.prod.yaml (production), a dev variant and a variant in an
existing VPC, run once each; assertions on the AWS resource graph, the IAM documents, and every
Kubernetes object the cluster would receive."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from typing import Any

import pytest

from components.aws.postgres import init_script
from tools.mocks import aws as mock
from tools.mocks import PROJECT, Run, generated_passwords, is_secret, run_program, stack_config
from tests.test_kubernetes import (  # noqa: F401  (cached_schemas is a fixture)
    assert_secrets_only_in_secrets, assert_valid_objects, by_service, cached_schemas, containers, env_of, of_kind, pod,
)

PTC_SECRET = f"arn:aws:secretsmanager:us-east-1:{mock.ACCOUNT}:secret:ecr-pullthroughcache/docker-hub-AbCdEf"
DEV = {
    "size": "dev",
    "domain": None,
    "aws": {"region": "us-east-1", "availabilityZones": 2, "redisEngine": "redis",
            "pullThroughCache": {"dockerHubCredentialArn": PTC_SECRET}},
}
CERTIFICATE = f"arn:aws:acm:eu-central-1:{mock.ACCOUNT}:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
EXISTING = {
    "size": "small",
    "domain": "dify.internal.example.net",
    "aws": {"region": "eu-central-1", "vpcId": "vpc-0a1b2c3d4e5f60718",
            "privateSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
            "publicSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
            "certificateArn": CERTIFICATE, "loadBalancerInternal": True,
            "loadBalancerSourceRanges": ["10.0.0.0/8"],
            "clusterAdminArns": [f"arn:aws:iam::{mock.ACCOUNT}:role/sre"]},
}

T = {
    "vpc": "aws:ec2/vpc:Vpc",
    "subnet": "aws:ec2/subnet:Subnet",
    "nat": "aws:ec2/natGateway:NatGateway",
    "route_table": "aws:ec2/routeTable:RouteTable",
    "eks": "aws:eks/cluster:Cluster",
    "nodes": "aws:eks/nodeGroup:NodeGroup",
    "template": "aws:ec2/launchTemplate:LaunchTemplate",
    "access_entry": "aws:eks/accessEntry:AccessEntry",
    "addon": "aws:eks/addon:Addon",
    "role": "aws:iam/role:Role",
    "role_policy": "aws:iam/rolePolicy:RolePolicy",
    "rds": "aws:rds/instance:Instance",
    "rds_subnets": "aws:rds/subnetGroup:SubnetGroup",
    "rds_params": "aws:rds/parameterGroup:ParameterGroup",
    "redis": "aws:elasticache/replicationGroup:ReplicationGroup",
    "redis_subnets": "aws:elasticache/subnetGroup:SubnetGroup",
    "redis_params": "aws:elasticache/parameterGroup:ParameterGroup",
    "sg_rule": "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "bucket": "aws:s3/bucket:Bucket",
    "block": "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "sse": "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "versioning": "aws:s3/bucketVersioning:BucketVersioning",
    "bucket_policy": "aws:s3/bucketPolicy:BucketPolicy",
    "repository": "aws:ecr/repository:Repository",
    "lifecycle": "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "ptc": "aws:ecr/pullThroughCacheRule:PullThroughCacheRule",
    "certificate": "aws:acm/certificate:Certificate",
    "validation": "aws:acm/certificateValidation:CertificateValidation",
    "record": "aws:route53/record:Record",
    "helm": "kubernetes:helm.sh/v3:Release",
    "ingress": "kubernetes:networking.k8s.io/v1:Ingress",
}
ALB = "alb.ingress.kubernetes.io/"

POOLS = ("worker-dataset", "worker-workflow", "worker-ops")


@pytest.fixture(scope="module")
def prod() -> Run:
    return run_program("prod")


@pytest.fixture(scope="module")
def dev() -> Run:
    return run_program("prod", overrides=DEV)


@pytest.fixture(scope="module")
def existing() -> Run:
    return run_program("prod", overrides=EXISTING)


def one(run: Run, key: str):
    found = run.of_type(T[key])
    assert len(found) == 1, f"{key}: {[r.name for r in found]}"
    return found[0]


def ingress(run: Run) -> dict:
    found = of_kind(run, "Ingress")
    assert len(found) == 1
    return found[0]


def policies(run: Run) -> dict[str, dict]:
    """Every IAM policy document the program writes (role trust and inline policies), by resource name."""
    documents = {}
    for resource in run.of_type(T["role"]):
        documents[f"{resource.name}:trust"] = json.loads(resource.plain["assumeRolePolicy"])
    for resource in run.of_type(T["role_policy"]):
        documents[resource.name] = json.loads(resource.plain["policy"])
    return documents


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


# -- the stack file and the outputs --------------------------------------------------------------

def test_outputs(prod):
    out = prod.outputs
    assert out["difyUrl"] == "https://dify.example.com"
    assert out["installUrl"] == "https://dify.example.com/install"
    assert out["loadBalancerHostname"].endswith(".elb.us-east-1.amazonaws.com")
    assert out["clusterName"].startswith("dify-prod-cluster-eks")
    assert out["kubeconfigCommand"] == f"aws eks update-kubeconfig --region us-east-1 --name {out['clusterName']}"
    assert out["postgresEndpoint"].endswith(".rds.amazonaws.com:5432")
    assert out["redisEndpoint"].startswith("master.") and out["redisEndpoint"].endswith(":6379")
    assert out["bucket"] == one(prod, "bucket").name + "-" + mock._suffix(one(prod, "bucket").name, 7)
    registry = out["registry"]
    assert registry["host"] == f"{mock.ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
    assert registry["repositories"]["langgenius/dify-api"] == f"{registry['host']}/dify-prod-registry/langgenius/dify-api"
    assert registry["dockerHubMirror"] is None
    assert out["dnsRecord"] == "dify.example.com"
    assert out["availabilityZones"] == ["us-east-1a", "us-east-1b", "us-east-1c"]


def test_the_kubeconfig_is_secret_and_holds_no_credential(prod):
    provider = [r for r in prod.resources if r.typ == "pulumi:providers:kubernetes" and r.name.endswith("k8s-app")]
    assert len(provider) == 1
    assert is_secret(provider[0].inputs["kubeconfig"])
    config = json.loads(provider[0].plain["kubeconfig"])
    assert config["users"][0]["user"]["exec"]["command"] == "aws"
    assert "token" not in json.dumps(config["users"][0]["user"]).replace("get-token", "")


def test_without_a_domain_the_url_is_the_load_balancers(dev):
    assert dev.outputs["difyUrl"] == f"http://{dev.outputs['loadBalancerHostname']}"
    assert "dnsRecord" not in dev.outputs
    assert not dev.of_type(T["certificate"])


# -- network and placement -----------------------------------------------------------------------

def test_new_vpc_across_three_zones_with_nat_per_zone(prod):
    subnets = prod.of_type(T["subnet"])
    private = [s for s in subnets if "-private-" in s.name]
    public = [s for s in subnets if "-public-" in s.name]
    assert {s.plain["availabilityZone"] for s in private} == {"us-east-1a", "us-east-1b", "us-east-1c"}
    assert len(public) == 3 and not any(s.plain.get("mapPublicIpOnLaunch") for s in public)
    cidrs = [ipaddress.ip_network(s.plain["cidrBlock"]) for s in subnets]
    assert all(a == b or not a.overlaps(b) for a in cidrs for b in cidrs)
    assert len(prod.of_type(T["nat"])) == 3
    assert all(s.plain["tags"]["kubernetes.io/role/internal-elb"] == "1" for s in private)
    assert all(s.plain["tags"]["kubernetes.io/role/elb"] == "1" for s in public)


def test_dev_shares_one_nat_gateway_across_two_zones(dev):
    assert len(dev.of_type(T["nat"])) == 1
    assert len([s for s in dev.of_type(T["subnet"]) if "-private-" in s.name]) == 2


def test_an_existing_vpc_is_used_by_id(existing):
    assert not existing.of_type(T["vpc"]) and not existing.of_type(T["subnet"])
    assert one(existing, "eks").plain["vpcConfig"]["subnetIds"] == EXISTING["aws"]["privateSubnetIds"]
    assert one(existing, "rds_subnets").plain["subnetIds"] == EXISTING["aws"]["privateSubnetIds"]


def test_databases_sit_in_private_subnets_open_only_to_the_cluster(prod):
    private_ids = {f"{s.name}-id" for s in prod.of_type(T["subnet"]) if "-private-" in s.name}
    assert set(one(prod, "rds_subnets").plain["subnetIds"]) == private_ids
    assert set(one(prod, "redis_subnets").plain["subnetIds"]) == private_ids
    assert one(prod, "rds").plain["publiclyAccessible"] is False
    groups = {r.name: r for r in prod.resources if r.typ == "aws:ec2/securityGroup:SecurityGroup"}
    rds, redis = one(prod, "rds").plain, one(prod, "redis").plain
    assert rds["dbSubnetGroupName"].startswith("dify-prod-postgres-subnets-")
    assert rds["vpcSecurityGroupIds"] == ["dify-prod-postgres-sg-id"] and "dify-prod-postgres-sg" in groups
    assert redis["subnetGroupName"].startswith("dify-prod-redis-subnets-")
    assert redis["securityGroupIds"] == ["dify-prod-redis-sg-id"] and "dify-prod-redis-sg" in groups
    assert rds["parameterGroupName"].startswith("dify-prod-postgres-params-")
    assert redis["parameterGroupName"].startswith("dify-prod-redis-params-")
    rules = {r.name: r.plain for r in prod.of_type(T["sg_rule"])}
    assert set(rules) == {"dify-prod-postgres-from-cluster", "dify-prod-redis-from-cluster"}
    for rule in rules.values():
        assert rule["referencedSecurityGroupId"] == mock.CLUSTER_SG
        assert "cidrIpv4" not in rule and "cidrIpv6" not in rule
    assert rules["dify-prod-postgres-from-cluster"]["fromPort"] == 5432
    assert rules["dify-prod-redis-from-cluster"]["toPort"] == 6379


# -- high availability and encryption ------------------------------------------------------------

def test_production_is_multi_az_with_failover(prod):
    rds = one(prod, "rds").plain
    assert rds["multiAz"] is True and rds["deletionProtection"] is True
    assert rds["skipFinalSnapshot"] is False and rds["finalSnapshotIdentifier"] == "dify-prod-postgres-final"
    assert rds["backupRetentionPeriod"] == 14
    assert int(rds["engineVersion"]) >= 16
    redis = one(prod, "redis").plain
    assert redis["automaticFailoverEnabled"] is True and redis["multiAzEnabled"] is True
    assert redis["numCacheClusters"] == 2 and redis["clusterMode"] == "disabled"
    assert redis["snapshotRetentionLimit"] > 0
    nodes = one(prod, "nodes").plain
    assert nodes["scalingConfig"] == {"minSize": 3, "desiredSize": 3, "maxSize": 9}
    assert one(prod, "eks").plain["deletionProtection"] is True


def test_dev_is_single_az_and_deletable(dev):
    rds = one(dev, "rds").plain
    assert rds["multiAz"] is False and rds["deletionProtection"] is False and rds["skipFinalSnapshot"] is True
    redis = one(dev, "redis").plain
    assert redis["numCacheClusters"] == 1 and redis["automaticFailoverEnabled"] is False
    assert redis["engine"] == "redis" and one(dev, "redis_params").plain["family"] == "redis7"


def test_encryption_at_rest_and_in_transit(prod):
    rds = one(prod, "rds").plain
    assert rds["storageEncrypted"] is True
    params = {p["name"]: p["value"] for p in one(prod, "rds_params").plain["parameters"]}
    assert params["rds.force_ssl"] == "1"
    redis = one(prod, "redis").plain
    assert redis["atRestEncryptionEnabled"] is True and redis["transitEncryptionEnabled"] is True
    assert redis["transitEncryptionMode"] == "required" and is_secret(one(prod, "redis").inputs["authToken"])
    assert redis["engine"] == "valkey"
    assert {p["name"]: p["value"] for p in one(prod, "redis_params").plain["parameters"]} == {
        "maxmemory-policy": "noeviction"}
    sse = one(prod, "sse").plain["rules"][0]["applyServerSideEncryptionByDefault"]
    assert sse["sseAlgorithm"] == "aws:kms"
    assert one(prod, "eks").plain["encryptionConfig"]["resources"] == ["secrets"]
    ebs = one(prod, "template").plain["blockDeviceMappings"][0]["ebs"]
    assert ebs["encrypted"] == "true" and ebs["volumeType"] == "gp3"
    assert one(prod, "template").plain["metadataOptions"]["httpTokens"] == "required"
    assert one(prod, "template").plain["metadataOptions"]["httpPutResponseHopLimit"] == 1


def test_dify_speaks_tls_to_postgres_and_redis(prod):
    api = env_of(by_service(prod)["api"])
    assert api["REDIS_USE_SSL"]["value"] == "true"
    daemon = env_of(by_service(prod)["plugin-daemon"])
    assert daemon["DB_SSL_MODE"]["value"] == "require"
    broker = [r for r in prod.resources if r.typ == "kubernetes:core/v1:Secret"
              and "CELERY_BROKER_URL" in json.dumps(r.plain)]
    assert broker and all("rediss://" in json.dumps(r.plain) and "ssl_cert_reqs=required" in json.dumps(r.plain)
                          for r in broker)


def test_the_bucket_is_private_encrypted_versioned_and_tls_only(prod, dev):
    block = one(prod, "block").plain
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    assert one(prod, "versioning").plain["versioningConfiguration"] == {"status": "Enabled"}
    assert not dev.of_type(T["versioning"])
    policy = json.loads(one(prod, "bucket_policy").plain["policy"])
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert "acl" not in one(prod, "bucket").plain and "policy" not in one(prod, "bucket").plain


# -- identity and least privilege ----------------------------------------------------------------

def test_no_wildcard_actions_and_star_resources_only_where_aws_requires(prod):
    for name, document in policies(prod).items():
        for statement in document["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            for action in as_list(statement["Action"]):
                assert action != "*" and not action.endswith(":*"), f"{name}: {action}"
            if "*" in as_list(statement.get("Resource", [])) and not statement.get("Condition"):
                # Describe/List/Get calls and the controllers' documented sets have no resource scope.
                assert name.startswith(("dify-prod-lbc-irsa", "dify-prod-scaling-autoscaler")), f"{name}: {statement}"
                if name.startswith("dify-prod-scaling-autoscaler"):
                    assert all(a.split(":")[1].startswith(("Describe", "Get")) for a in as_list(statement["Action"]))


def test_dify_reaches_only_its_bucket_through_irsa(prod):
    documents = policies(prod)
    bucket_arn = f"arn:aws:s3:::{prod.outputs['bucket']}"
    issuer = mock.ISSUER.removeprefix("https://")
    # production runs the worker pools; each trusts the api's role as the single worker did.
    trusted = {"dify-api": ["api", *POOLS, "api-websocket"], "dify-plugin-daemon": "plugin-daemon",
               "dify-startup": ["beat", "migrate"]}
    for role, accounts in trusted.items():
        trust = documents[f"dify-prod-{role}:trust"]["Statement"][0]
        assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
        subjects = ([f"system:serviceaccount:dify:{a}" for a in accounts] if isinstance(accounts, list)
                    else f"system:serviceaccount:dify:{accounts}")
        assert trust["Condition"]["StringEquals"] == {f"{issuer}:sub": subjects, f"{issuer}:aud": "sts.amazonaws.com"}
    for role in ("dify-api", "dify-plugin-daemon"):
        resources = {r for s in documents[f"dify-prod-{role}-policy"]["Statement"] for r in as_list(s["Resource"])}
        assert resources == {bucket_arn, f"{bucket_arn}/*"}, role
    assert documents["dify-prod-dify-startup-policy"]["Statement"] == [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket_arn}]
    accounts = {(a["metadata"]["namespace"], a["metadata"]["name"]): a for a in of_kind(prod, "ServiceAccount")}
    services = by_service(prod)
    # One service account per workload, in the workload's namespace, without a mounted token.
    assert set(accounts) == {(w["metadata"]["namespace"], name) for name, w in services.items()}
    assert all(a["automountServiceAccountToken"] is False for a in accounts.values())
    role_of = {name: (accounts[(w["metadata"]["namespace"], name)]["metadata"].get("annotations") or {}).get(
        "eks.amazonaws.com/role-arn") for name, w in services.items()}
    assert {role_of[n] for n in ("api", *POOLS, "api-websocket")} == {prod.outputs["workloadRoleArn"]}
    assert role_of["plugin-daemon"] == prod.outputs["pluginDaemonRoleArn"] != prod.outputs["workloadRoleArn"]
    assert role_of["beat"] == role_of["migrate"] not in (None, prod.outputs["workloadRoleArn"])
    assert {n for n, r in role_of.items() if r is None} == set(services) - {
        "api", *POOLS, "api-websocket", "plugin-daemon", "beat", "migrate"}
    for name in ("api", *POOLS, "api-websocket", "plugin-daemon", "beat", "migrate"):
        assert pod(services[name])["serviceAccountName"] == name, name
        env = env_of(services[name])
        assert env["S3_USE_AWS_MANAGED_IAM"]["value"] == "true", name
        assert not {"S3_ACCESS_KEY", "S3_SECRET_KEY", "AWS_ACCESS_KEY", "AWS_SECRET_KEY"} & set(env), name
    assert env_of(services["api"])["STORAGE_TYPE"]["value"] == "s3"


def test_the_deployer_and_listed_admins_get_access_entries(prod, existing):
    principals = {r.plain["principalArn"] for r in prod.of_type(T["access_entry"])}
    assert principals == {mock.DEPLOYER_ROLE}
    principals = {r.plain["principalArn"] for r in existing.of_type(T["access_entry"])}
    assert principals == {mock.DEPLOYER_ROLE, f"arn:aws:iam::{mock.ACCOUNT}:role/sre"}
    access = one(prod, "eks").plain["accessConfig"]
    assert access == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}


def test_network_policies_are_enforced_by_the_vpc_cni(prod):
    (cni,) = [a for a in prod.of_type(T["addon"]) if a.plain["addonName"] == "vpc-cni"]
    assert json.loads(cni.plain["configurationValues"]) == {"enableNetworkPolicy": "true"}
    assert of_kind(prod, "NetworkPolicy")


# -- the plugin database Job ---------------------------------------------------------------------

def test_the_plugin_database_and_vector_job(prod):
    jobs = {m["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]: m for m in of_kind(prod, "Job")}
    assert set(jobs) == {"db-init", "migrate", "plugin-migrate"}
    init = jobs["db-init"]
    script = " ".join(containers(init)[0]["args"])
    assert 'CREATE DATABASE \\"$DIFY_PLUGIN_DB\\"' in script and "CREATE EXTENSION IF NOT EXISTS vector" in script
    env = env_of(init)
    assert env["DIFY_PLUGIN_DB"]["value"] == "dify_plugin" and env["PGSSLMODE"]["value"] == "require"
    assert env["PGHOST"]["value"] == prod.outputs["postgresEndpoint"].rsplit(":", 1)[0]
    assert "secretKeyRef" in env["PGPASSWORD"]["valueFrom"]
    declared = {r.name: r for r in prod.resources if r.typ == "kubernetes:batch/v1:Job"}
    assert "dify-prod-db-init" in declared["dify-prod-migrate"].depends_on
    assert one(prod, "rds").plain["dbName"] == "dify"


def test_the_init_script_is_valid_shell():
    subprocess.run(["sh", "-n", "-c", init_script()], check=True)


# -- entry, certificate and DNS ------------------------------------------------------------------

def test_the_alb_ends_tls_with_a_validated_certificate_and_redirects_http(prod):
    certificate = one(prod, "certificate").plain
    assert certificate["domainName"] == "dify.example.com" and certificate["validationMethod"] == "DNS"
    records = {r.name: r.plain for r in prod.of_type(T["record"])}
    validation = records["dify-prod-tls-validation"]
    assert validation["zoneId"] == mock.HOSTED_ZONE_ID and validation["type"] == "CNAME"
    assert one(prod, "validation").plain["validationRecordFqdns"] == [validation["name"].rstrip(".")]
    annotations = ingress(prod)["metadata"]["annotations"]
    assert annotations[f"{ALB}certificate-arn"].startswith(f"arn:aws:acm:us-east-1:{mock.ACCOUNT}:certificate/")
    assert annotations[f"{ALB}ssl-redirect"] == "443"
    assert json.loads(annotations[f"{ALB}listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
    assert annotations[f"{ALB}target-type"] == "ip" and annotations[f"{ALB}scheme"] == "internet-facing"
    assert annotations[f"{ALB}healthcheck-path"] == "/healthz"
    spec = ingress(prod)["spec"]
    assert spec["ingressClassName"] == "alb" and spec["rules"][0]["host"] == "dify.example.com"
    alias = records["dify-prod-dns"]
    assert alias["name"] == "dify.example.com" and alias["type"] == "A" and alias["zoneId"] == mock.HOSTED_ZONE_ID
    assert alias["aliases"] == [{"name": prod.outputs["loadBalancerHostname"], "zoneId": mock.ALB_ZONE_ID,
                                 "evaluateTargetHealth": True}]
    # nginx trusts the ALB's X-Forwarded-Proto, so Dify builds https links.
    api = env_of(by_service(prod)["api"])
    assert api["CONSOLE_API_URL"]["value"] == "https://dify.example.com"


def test_a_given_certificate_and_an_internal_alb(existing):
    assert not existing.of_type(T["certificate"]) and not existing.of_type(T["record"])
    annotations = ingress(existing)["metadata"]["annotations"]
    assert annotations[f"{ALB}certificate-arn"] == CERTIFICATE
    assert annotations[f"{ALB}scheme"] == "internal" and annotations[f"{ALB}inbound-cidrs"] == "10.0.0.0/8"
    assert existing.outputs["difyUrl"] == "https://dify.internal.example.net"


def test_without_a_certificate_the_alb_listens_on_http_only(dev):
    annotations = ingress(dev)["metadata"]["annotations"]
    assert json.loads(annotations[f"{ALB}listen-ports"]) == [{"HTTP": 80}]
    assert f"{ALB}certificate-arn" not in annotations


def test_the_ingress_waits_for_the_load_balancer_controller(prod):
    (release,) = [r for r in prod.of_type(T["helm"]) if r.plain["chart"] == "aws-load-balancer-controller"]
    assert release.plain["chart"] == "aws-load-balancer-controller"
    values = release.plain["values"]
    assert values["region"] == "us-east-1" and values["serviceAccount"]["name"] == "aws-load-balancer-controller"
    (app_provider,) = [r for r in prod.resources if r.name == "dify-prod-k8s-app"]
    assert release.name in app_provider.depends_on


# -- registry ------------------------------------------------------------------------------------

def test_repositories_scan_on_push_with_a_lifecycle(prod):
    repositories = prod.of_type(T["repository"])
    assert {r.plain["name"] for r in repositories} == {
        f"dify-prod-registry/{n}" for n in ("langgenius/dify-api", "langgenius/dify-web", "langgenius/dify-sandbox",
                                            "langgenius/dify-plugin-daemon", "langgenius/dify-agent-backend",
                                                "langgenius/dify-agent-local-sandbox", "plugins")}
    for repository in repositories:
        assert repository.plain["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repository.plain["imageTagMutability"] == "IMMUTABLE"
    assert len(prod.of_type(T["lifecycle"])) == len(repositories)
    rules = json.loads(prod.of_type(T["lifecycle"])[0].plain["policy"])["rules"]
    assert [r["selection"]["tagStatus"] for r in rules] == ["untagged", "any"]
    assert not prod.of_type(T["ptc"])


def test_the_pull_through_cache_serves_every_image(dev):
    rule = one(dev, "ptc").plain
    assert rule["upstreamRegistryUrl"] == "registry-1.docker.io" and rule["credentialArn"] == PTC_SECRET
    mirror = f"{mock.ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{rule['ecrRepositoryPrefix']}"
    assert dev.outputs["registry"]["dockerHubMirror"] == mirror
    images = {c["image"] for m in of_kind(dev, "Deployment") + of_kind(dev, "Job") for c in containers(m)}
    assert images and all(i.startswith(f"{mirror}/") for i in images), images
    assert f"{mirror}/library/nginx:" in " ".join(images)
    node_policy = policies(dev)["dify-prod-cluster-node-extra"]["Statement"]
    assert node_policy == [{"Effect": "Allow", "Action": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
                            "Resource": f"arn:aws:ecr:us-east-1:{mock.ACCOUNT}:repository/"
                                        f"{rule['ecrRepositoryPrefix']}/*"}]


# -- protection ----------------------------------------------------------------------------------

STATEFUL = ("rds", "redis", "bucket")


def test_stateful_resources_are_protected_in_production(prod, dev):
    for key in STATEFUL:
        assert one(prod, key).options["protect"] is True, key
        assert one(dev, key).options["protect"] is False, key
    for key in ("eks", "nodes", "vpc"):
        assert one(prod, key).options["protect"] is False, key


# -- secrets and manifests -----------------------------------------------------------------------

def test_secret_values_live_only_in_secrets(prod):
    secrets = generated_passwords(prod)
    assert len(secrets) >= 6
    assert_secrets_only_in_secrets(prod, secrets, must_reach=secrets)
    assert is_secret(one(prod, "rds").inputs["password"])


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_every_object_is_valid_for_the_pinned_kubernetes_version(variant, request, cached_schemas):
    run = request.getfixturevalue(variant)
    assert_valid_objects(run)


def test_production_replicas_spread_over_zones(prod):
    api = by_service(prod)["api"]
    assert api["spec"]["replicas"] >= 3
    keys = {c["topologyKey"] for c in pod(api)["topologySpreadConstraints"]}
    assert "topology.kubernetes.io/zone" in keys


def test_preview_runs_before_anything_exists():
    run = run_program("prod", preview=True)
    assert run.of_type(T["eks"]) and run.of_type(T["rds"])


# -- rejected config -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("aws", "top", "key", "hint"),
    [
        ({"region": "us-east"}, {}, "aws.region", "us-east-1"),
        ({"availabilityZones": 1}, {}, "aws.availabilityZones", "greater than or equal to 2"),
        ({"vpcId": "vpc-0a1b2c3d4e5f60718"}, {}, "aws", "privateSubnetIds"),
        ({"nodeMinSize": 5}, {}, "aws.nodeMinSize", "min <= desired <= max"),
        ({"postgresVersion": "15"}, {}, "aws.postgresVersion", "16 or newer"),
        ({"rdsInstanceClass": "m7g.large"}, {}, "aws.rdsInstanceClass", "db.m7g.large"),
        ({"certificateArn": CERTIFICATE}, {}, "aws", "only one"),
        ({"hostedZone": "example.org"}, {}, "aws.hostedZone", "not in the hosted zone"),
        ({"pullThroughCache": {"dockerHubCredentialArn": "arn:aws:secretsmanager:us-east-1:1:secret:x"}}, {},
         "aws.pullThroughCache.dockerHubCredentialArn", "ecr-pullthroughcache/"),
        ({"pullThroughCache": {"dockerHubCredentialArn": PTC_SECRET}}, {"registry": {"mirror": "mirror.example.com"}},
         "registry.mirror", "pullThroughCache"),
        ({"regoin": "eu-west-1"}, {}, "aws.regoin", "did you mean `aws.region`"),
        ({}, {"selfHosted": {"highAvailability": True}}, "selfHosted.highAvailability", "managed or external"),
        ({}, {"objectStorage": {"mode": "managed", "kind": "oss"}}, "objectStorage.kind", "s3"),
        ({}, {"kubernetes": {"entry": "ingress"}}, "kubernetes.entry", "ALB"),
        ({}, {"kubernetes": {"namespace": "dify", "isolation": {"clusterCidrs": ["10.0.0.0/8"]}}},
         "kubernetes.isolation", "knows its VPC"),
    ],
)
def test_wrong_aws_config_is_rejected_naming_the_key(aws, top, key, hint):
    base = dict(stack_config("prod")[0][f"{PROJECT}:aws"])
    with pytest.raises(Exception) as raised:
        run_program("prod", overrides={"aws": {**base, **aws}, **top})
    message = str(raised.value)
    assert f"{PROJECT}:{key}" in message, message
    assert hint in message, message


def test_the_alb_targets_pods_behind_readiness_gates(prod):
    namespace = prod.named("kubernetes:core/v1:Namespace", "dify-prod-namespace").plain
    assert namespace["metadata"]["labels"]["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled"


def test_the_cluster_scales_pods_on_cpu_and_nodes_up_to_the_groups_maximum(prod):
    (metrics,) = [r for r in prod.of_type("aws:eks/addon:Addon") if r.plain["addonName"] == "metrics-server"]
    assert "dify-prod-cluster-nodes" in metrics.depends_on
    (autoscaler,) = [r for r in prod.of_type(T["helm"]) if r.plain["chart"] == "cluster-autoscaler"]
    values = autoscaler.plain["values"]
    assert autoscaler.plain["version"] == "9.54.0" and values["image"]["tag"] == "v1.35.0"
    assert values["autoDiscovery"]["clusterName"] and values["awsRegion"] == "us-east-1"
    assert values["rbac"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    scale = policies(prod)["dify-prod-scaling-autoscaler-policy"]["Statement"][1]
    assert scale["Action"] == ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
    (tag,) = scale["Condition"]["StringEquals"]
    assert tag.startswith("aws:ResourceTag/k8s.io/cluster-autoscaler/")
    nodes = prod.named("aws:eks/nodeGroup:NodeGroup", "dify-prod-cluster-nodes")
    assert "scalingConfig.desiredSize" in nodes.options["ignoreChanges"]
    assert nodes.plain["scalingConfig"]["maxSize"] > nodes.plain["scalingConfig"]["minSize"]
