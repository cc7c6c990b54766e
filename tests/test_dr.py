"""Disaster recovery (aws.dr, alicloud.dr) under mocks: one production run per cloud with it on, the
resources and their wiring in the standby region, the refusals, the change plan of turning it on, and
the failover runbooks' commands checked against the AWS CLI's service models."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import botocore.session
import pytest
from botocore.validate import validate_parameters

from components.aws.failover import PING_PATH
from tests.captured import captured
from tests.change_plan import cached_run, stateful_losses
from tests.script_commands import aliyun_option_problems, aliyun_problems, aws_commands, problems, script_problems
from tools.mocks import PROJECT, ROOT, generated_passwords, is_secret, run_program, stack_config
from tools.mocks import alicloud as ali_mock
from tools.mocks import aws as aws_mock

AWS_DR = {"standbyRegion": "us-west-2", "failoverRecords": True, "standbyHostname": "standby.example.com"}
ALI_DR = {"standbyRegion": "cn-shanghai"}
SCRIPTS = ROOT / "scripts" / "dr"
T = {
    "provider": "pulumi:providers:aws",
    "bucket": "aws:s3/bucket:Bucket",
    "versioning": "aws:s3/bucketVersioning:BucketVersioning",
    "lifecycle": "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "sse": "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "replication": "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
    "key": "aws:kms/key:Key",
    "role": "aws:iam/role:Role",
    "role_policy": "aws:iam/rolePolicy:RolePolicy",
    "backups": "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
    "rds": "aws:rds/instance:Instance",
    "health": "aws:route53/healthCheck:HealthCheck",
    "record": "aws:route53/record:Record",
    "vpc": "aws:ec2/vpc:Vpc",
    "nat": "aws:ec2/natGateway:NatGateway",
    "db_subnets": "aws:rds/subnetGroup:SubnetGroup",
    "ingress": "kubernetes:networking.k8s.io/v1:Ingress",
}


def with_dr(stack: str, section: str, dr: dict, **more) -> dict:
    return {section: {**stack_config(stack)[0][f"{PROJECT}:{section}"], **more, "dr": dr}}


@pytest.fixture(scope="module")
def aws_dr():
    return cached_run("prod", with_dr("prod", "aws", AWS_DR))


@pytest.fixture(scope="module")
def ali_dr():
    return cached_run("alicloud", with_dr("alicloud", "alicloud", ALI_DR))


def on_standby(resource) -> bool:
    return "::dify-prod-aws-standby::" in resource.provider


def test_the_standby_region_has_its_own_provider(aws_dr):
    standby = aws_dr.named(T["provider"], "dify-prod-aws-standby").plain
    assert standby["region"] == "us-west-2"
    assert json.loads(standby["defaultTags"])["tags"]["dify-stack"] == "prod"
    in_standby = [r for r in aws_dr.resources if r.custom and on_standby(r)]
    kinds = {r.typ for r in in_standby}
    assert {T["bucket"], T["key"], T["backups"], T["vpc"], T["nat"], T["db_subnets"]} <= kinds
    # The primary's data stay where they were; the replication configuration belongs to the source bucket.
    for name in ("dify-prod-postgres-rds",):
        assert not on_standby(aws_dr.named(T["rds"], name))
    assert not on_standby(aws_dr.named(T["replication"], "dify-prod-files-replica-replication"))


def test_the_bucket_replicates_kms_objects_to_a_versioned_replica(aws_dr):
    rule, = aws_dr.named(T["replication"], "dify-prod-files-replica-replication").plain["rules"]
    replica = aws_dr.named(T["bucket"], "dify-prod-files-replica-bucket")
    key_arn = aws_mock.state(T["key"], "dify-prod-files-replica-key", {})["arn"]
    assert rule["status"] == "Enabled" and rule["filter"] == {}
    assert rule["destination"]["bucket"].endswith(replica.name + "-" + aws_mock._suffix(replica.name, 7))
    assert rule["destination"]["encryptionConfiguration"] == {"replicaKmsKeyId": key_arn}
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    assert rule["deleteMarkerReplication"] == {"status": "Disabled"}
    # Production: Replication Time Control, which needs the metrics.
    assert rule["destination"]["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
    assert rule["destination"]["metrics"]["status"] == "Enabled"
    configuration = aws_dr.named(T["replication"], "dify-prod-files-replica-replication")
    assert {"dify-prod-files-versioning", "dify-prod-files-replica-versioning",
            "dify-prod-files-replica-role-policy"} <= configuration.depends_on
    for name in ("dify-prod-files-versioning", "dify-prod-files-replica-versioning"):
        assert aws_dr.named(T["versioning"], name).plain["versioningConfiguration"] == {"status": "Enabled"}
    lifecycle, = aws_dr.named(T["lifecycle"], "dify-prod-files-replica-lifecycle").plain["rules"]
    assert lifecycle["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    sse, = aws_dr.named(T["sse"], "dify-prod-files-replica-encryption").plain["rules"]
    assert sse["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
    assert replica.options["protect"] and not replica.plain["forceDestroy"]


def test_the_replica_key_is_used_only_through_s3_of_the_standby_region(aws_dr):
    key = aws_dr.named(T["key"], "dify-prod-files-replica-key")
    assert on_standby(key) and key.options["protect"]
    assert key.plain["enableKeyRotation"] and key.plain["deletionWindowInDays"] == 30
    admin, use = json.loads(key.plain["policy"])["Statement"]
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{aws_mock.ACCOUNT}:root"}
    assert use["Condition"]["StringEquals"] == {"kms:CallerAccount": aws_mock.ACCOUNT,
                                                "kms:ViaService": "s3.us-west-2.amazonaws.com"}
    assert "kms:*" not in use["Action"] and "kms:ScheduleKeyDeletion" not in use["Action"]


def test_the_replication_role_has_least_privilege(aws_dr):
    role = aws_dr.named(T["role"], "dify-prod-files-replica-role").plain
    trust, = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "s3.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": aws_mock.ACCOUNT}}
    statements = json.loads(aws_dr.named(T["role_policy"], "dify-prod-files-replica-role-policy").plain["policy"])[
        "Statement"]
    actions = [a for s in statements for a in s["Action"]]
    assert not [a for a in actions if a.endswith(":*") or a == "*"]
    assert "s3:ReplicateDelete" not in actions and "s3:GetObject" not in actions
    assert all(s["Resource"] != "*" for s in statements)
    by_sid = {s["Sid"]: s for s in statements}
    source = "arn:aws:s3:::" + aws_dr.named(T["bucket"], "dify-prod-files-bucket").name
    assert by_sid["ReadSourceVersions"]["Resource"].startswith("arn:aws:s3:::dify-prod-files-bucket")
    assert by_sid["DecryptSource"]["Resource"] == f"arn:aws:kms:us-east-1:{aws_mock.ACCOUNT}:key/*"
    # With S3 bucket keys, KMS sees the bucket ARN as encryption context; objects from before, their own ARN.
    context = by_sid["DecryptSource"]["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"]
    assert len(context) == 2 and context[1] == context[0] + "/*" and context[0].startswith(source)
    assert by_sid["EncryptReplicas"]["Condition"]["StringEquals"] == {"kms:ViaService": "s3.us-west-2.amazonaws.com"}


def test_deletes_replicate_only_when_asked_and_a_standby_alb_is_aliased_in_its_regions_zone():
    alb = "k8s-dify-nginx-0123456789.eu-west-1.elb.amazonaws.com"
    run = run_program("prod", overrides=with_dr("prod", "aws", {
        "standbyRegion": "eu-west-1", "replicateDeletes": True, "replicationTimeControl": False,
        "failoverRecords": True, "standbyHostname": alb}))
    rule, = run.named(T["replication"], "dify-prod-files-replica-replication").plain["rules"]
    assert rule["deleteMarkerReplication"] == {"status": "Enabled"}
    assert "replicationTime" not in rule["destination"]
    statements = json.loads(run.named(T["role_policy"], "dify-prod-files-replica-role-policy").plain["policy"])[
        "Statement"]
    assert "s3:ReplicateDelete" in [a for s in statements for a in s["Action"]]
    alias, = run.named(T["record"], "dify-prod-dns-secondary").plain["aliases"]
    assert alias["name"] == alb and alias["zoneId"] == aws_mock.ALB_ZONE_ID


def test_rds_backups_are_replicated_with_a_key_of_the_standby_region(aws_dr):
    replication = aws_dr.named(T["backups"], "dify-prod-standby-backups")
    rds = aws_dr.named(T["rds"], "dify-prod-postgres-rds")
    key = aws_dr.named(T["key"], "dify-prod-standby-backup-key")
    assert on_standby(replication) and on_standby(key) and key.options["protect"]
    plain = replication.plain
    assert plain["sourceDbInstanceArn"] == aws_mock.state(T["rds"], rds.name, {})["arn"]
    assert plain["kmsKeyId"] == aws_mock.state(T["key"], key.name, {})["arn"]
    assert plain["retentionPeriod"] == 14  # the production preset's aws.backupRetentionDays


def test_the_standby_network_is_ready_for_the_restore(aws_dr):
    assert aws_dr.named(T["vpc"], "dify-prod-standby-network-vpc").plain["cidrBlock"] == "10.1.0.0/16"
    assert len(aws_dr.of_type(T["nat"])) == 3 + 1  # the primary's per zone, one in the standby network
    rule = aws_dr.named("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "dify-prod-standby-db-from-vpc")
    assert rule.plain["fromPort"] == rule.plain["toPort"] == 5432 and rule.plain["cidrIpv4"] == "10.1.0.0/16"


def test_failover_records_follow_a_health_check_of_the_primary_alb(aws_dr):
    check = aws_dr.named(T["health"], "dify-prod-dns-primary-health").plain
    assert check["type"] == "HTTPS" and check["port"] == 443 and check["resourcePath"] == PING_PATH == "/console/api/ping"
    # The ALB by its own name: a check of the failover name would follow it to the standby and flap.
    assert check["fqdn"] == aws_dr.outputs["loadBalancerHostname"] != "dify.example.com"
    assert check["requestInterval"] == 10 and check["failureThreshold"] == 3
    primary = aws_dr.named(T["record"], "dify-prod-dns")
    secondary = aws_dr.named(T["record"], "dify-prod-dns-secondary")
    assert primary.plain["failoverRoutingPolicies"] == [{"type": "PRIMARY"}]
    assert primary.plain["healthCheckId"] == "dify-prod-dns-primary-health-id"
    assert primary.options["deleteBeforeReplace"]
    assert secondary.plain["failoverRoutingPolicies"] == [{"type": "SECONDARY"}]
    assert {primary.plain["setIdentifier"], secondary.plain["setIdentifier"]} == {"primary", "secondary"}
    assert primary.plain["name"] == secondary.plain["name"] == "dify.example.com"
    assert primary.plain["type"] == secondary.plain["type"] == "A"
    assert secondary.plain["aliases"] == [{"name": "standby.example.com", "zoneId": aws_mock.HOSTED_ZONE_ID,
                                           "evaluateTargetHealth": False}]
    # Route 53 sends the ALB's name as Host: the Ingress takes any host.
    assert "host" not in aws_dr.named(T["ingress"], "dify-prod-nginx").plain["spec"]["rules"][0]


def test_the_runbook_finds_every_output_it_reads(aws_dr, ali_dr):
    for script, run in (("failover_aws.sh", aws_dr), ("failover_alicloud.sh", ali_dr)):
        read = set(re.findall(r"\$\(out (\w+)\)", (SCRIPTS / script).read_text()))
        outputs = run.outputs["disasterRecovery"]
        assert read and not read - set(outputs), f"{script} reads outputs that do not exist: {read - set(outputs)}"
    outputs = aws_dr.outputs["disasterRecovery"]
    assert outputs["standbyRegion"] == "us-west-2" and outputs["backupRetentionDays"] == 14
    assert outputs["dbMaxConnections"] > 1000 and len(outputs["standbyPrivateSubnetIds"]) == 3


def test_no_secret_reaches_the_dr_resources_or_outputs(aws_dr, ali_dr):
    for run in (aws_dr, ali_dr):
        secrets = set(generated_passwords(run)) | run.secrets
        dr = [r for r in run.resources if re.search(r"replica|standby|cross-region|-dns", r.name)]
        assert dr
        for resource in dr:
            text = json.dumps(resource.plain)
            assert not [s for s in secrets if s in text], resource.name
        assert "disasterRecovery" not in run.secret_outputs
        assert not [s for s in secrets if s in json.dumps(run.outputs["disasterRecovery"])]
        assert is_secret(run.outputs["kubeconfig"]) or "kubeconfig" in run.secret_outputs


def test_turning_dr_on_replaces_nothing_stateful(aws_dr, ali_dr):
    for stack, run in (("prod", aws_dr), ("alicloud", ali_dr)):
        before = captured(stack)
        assert stateful_losses(before, run) == [], stack


def test_turning_dr_on_a_small_stack_versions_its_bucket_in_place():
    section = {**stack_config("prod")[0][f"{PROJECT}:aws"], "hostedZone": None}
    before = cached_run("prod", {"size": "small", "aws": section})
    after = cached_run("prod", {"size": "small", "aws": {**section, "dr": {"standbyRegion": "us-west-2"}}})
    assert stateful_losses(before, after) == []
    assert not before.of_type(T["versioning"]) and after.named(T["versioning"], "dify-prod-files-versioning")
    rule, = after.named(T["replication"], "dify-prod-files-replica-replication").plain["rules"]
    assert "replicationTime" not in rule["destination"]  # off below production unless asked
    assert after.named(T["bucket"], "dify-prod-files-replica-bucket").options["protect"] is False
    assert after.named(T["backups"], "dify-prod-standby-backups").plain["retentionPeriod"] == 7
    # No failover records asked: the Ingress keeps its host.
    assert not after.of_type(T["health"])
    assert after.named(T["ingress"], "dify-prod-nginx").plain["spec"]["rules"][0]["host"] == "dify.example.com"


def test_alicloud_replicates_the_bucket_and_the_backups_to_the_standby_region(ali_dr):
    provider = ali_dr.named("pulumi:providers:alicloud", "dify-alicloud-alicloud-standby").plain
    assert provider["region"] == "cn-shanghai"
    replica = ali_dr.named("alicloud:oss/bucket:Bucket", "dify-alicloud-files-replica-bucket")
    assert "dify-alicloud-alicloud-standby" in replica.provider and replica.options["protect"]
    assert replica.plain["bucket"].endswith("-cn-shanghai") and replica.plain["redundancyType"] == "ZRS"
    rule = ali_dr.named("alicloud:oss/bucketReplication:BucketReplication", "dify-alicloud-files-replica-replication")
    assert "dify-alicloud-alicloud-standby" not in rule.provider
    assert rule.plain["destination"] == {"bucket": replica.plain["bucket"], "location": "oss-cn-shanghai"}
    assert rule.plain["action"] == "PUT" and rule.plain["historicalObjectReplication"] == "enabled"
    assert "rtc" not in rule.plain
    assert {"dify-alicloud-files-versioning", "dify-alicloud-files-replica-versioning"} <= rule.depends_on
    policy = ali_dr.named("alicloud:rds/rdsInstanceCrossBackupPolicy:RdsInstanceCrossBackupPolicy",
                          "dify-alicloud-postgres-cross-region-backups").plain
    assert policy == {"instanceId": "dify-alicloud-postgres-rds-id", "crossBackupRegion": "cn-shanghai",
                      "retention": 7, "logBackupEnabled": "Enable"}
    ram = json.loads(ali_dr.named("alicloud:ram/policy:Policy", "dify-alicloud-files-replica-policy").plain[
        "policyDocument"])
    assert {r for s in ram["Statement"] for r in s["Resource"]} == {
        f"acs:oss:*:*:{replica.plain['bucket']}", f"acs:oss:*:*:{replica.plain['bucket']}/*"}
    assert ali_dr.outputs["disasterRecovery"]["replicaEndpoint"] == "https://oss-cn-shanghai-internal.aliyuncs.com"
    assert ali_mock.REGION == ali_dr.outputs["disasterRecovery"]["primaryRegion"]


@pytest.mark.parametrize(
    ("stack", "overrides", "key", "hint"),
    [
        ("prod", with_dr("prod", "aws", {"standbyRegion": "us-east-1"}), "aws.dr.standbyRegion", "must differ"),
        ("prod", with_dr("prod", "aws", {"standbyRegion": "us-west-2b"}), "aws.dr.standbyRegion", "us-west-2"),
        ("prod", with_dr("prod", "aws", {"standbyRegion": "us-west-2", "standbyVpcCidr": "10.0.128.0/17"}),
         "aws.dr.standbyVpcCidr", "overlaps"),
        ("prod", with_dr("prod", "aws", {"standbyRegion": "us-west-2", "failoverRecords": True}),
         "aws.dr.standbyHostname", "standby ALB"),
        ("prod", with_dr("prod", "aws", {"standbyRegion": "us-west-2", "standbyHostname": "standby.example.com"}),
         "aws.dr.standbyHostname", "failoverRecords"),
        ("prod", with_dr("prod", "aws", {**AWS_DR, "standbyHostname": "standby.example.org"}),
         "aws.dr.standbyHostname", "neither an ALB"),
        ("prod", with_dr("prod", "aws", AWS_DR, hostedZone=None), "aws.dr.failoverRecords", "aws.hostedZone"),
        ("prod", with_dr("prod", "aws", {"standbyRegion": "us-west-2", "standbyRegoin": "x"}),
         "aws.dr.standbyRegoin", "standbyRegion"),
        ("alicloud", with_dr("alicloud", "alicloud", {"standbyRegion": "cn-hangzhou"}), "alicloud.dr.standbyRegion",
         "must differ"),
        ("alicloud", with_dr("alicloud", "alicloud", {"standbyRegion": "cn-shanghai", "backupRetentionDays": 3}),
         "alicloud.dr.backupRetentionDays", "7"),
        # DR keys belong to the cloud sections: on docker and kubernetes those sections are refused.
        ("dev", {"aws": {"region": "us-east-1", "dr": {"standbyRegion": "us-west-2"}}}, "aws", "applies to target aws"),
        ("k8s", {"alicloud": {"dr": {"standbyRegion": "cn-shanghai"}}}, "alicloud", "applies to target alicloud"),
    ],
)
def test_misplaced_or_bad_dr_keys_are_refused_naming_the_key(stack, overrides, key, hint):
    with pytest.raises(Exception) as raised:
        run_program(stack, overrides=overrides)
    message = str(raised.value)
    assert f"{PROJECT}:{key}" in message, message
    assert hint in message, message


# -- the runbooks -------------------------------------------------------------------------------------

@pytest.mark.parametrize("script", ["failover_aws.sh", "failover_alicloud.sh"])
def test_the_runbooks_are_valid_bash(script):
    subprocess.run(["bash", "-n", str(SCRIPTS / script)], check=True)


def test_every_aws_command_of_the_runbook_exists_with_its_options():
    commands = aws_commands((SCRIPTS / "failover_aws.sh").read_text())
    operations = {c.words[1:3] for c in commands}
    assert {("rds", "restore-db-instance-to-point-in-time"), ("rds", "modify-db-instance"),
            ("route53", "change-resource-record-sets")} <= operations
    assert script_problems(SCRIPTS / "failover_aws.sh") == []
    restore = next(c for c in commands if c.words[2] == "restore-db-instance-to-point-in-time")
    assert restore.option("--source-db-instance-automated-backups-arn") == "$BACKUP_ARN"


@pytest.mark.parametrize(("line", "problem"), [
    ("aws rds restore-db-instance-to-point-in-time --source-db-instance-automated-backup-arn x "
     "--target-db-instance-identifier y", "no option --source-db-instance-automated-backup-arn"),
    ("aws rds restore-db-instance-to-point-in-time --use-latest-restorable-time", "--target-db-instance-identifier is required"),
    ("aws rds wait db-instance-ready --db-instance-identifier y", "no such waiter"),
    ("aws rds restore-db-instance-to-pit --target-db-instance-identifier y", "no such operation"),
    ('X=$(aws rds describe-db-instances --db-instance-identifier "$T" --query "DBInstances[0" --output text)',
     "not JMESPath"),
    ("aws rds describe-db-instances --db-instance-identifier", "needs a value"),
])
def test_the_command_check_catches_mistakes(line, problem):
    command, = aws_commands(line + "\n")
    assert any(problem in p for p in problems(command)), problems(command)


def test_every_aliyun_call_of_the_runbook_exists_with_its_parameters():
    text = (SCRIPTS / "failover_alicloud.sh").read_text()
    commands = aws_commands(text, "aliyun")
    assert {c.words[1:3] for c in commands} >= {("rds", "CreateDdrInstance"), ("rds", "ResetAccountPassword"),
                                                 ("ram", "CreateAccessKey"), ("alidns", "UpdateDomainRecord")}
    assert [p for c in commands for p in aliyun_problems(c)] == []
    # The restore's own options, kept in an array (a backup set, or a point in time).
    arrays = re.findall(r"RESTORE=\((.*?)\)", text)
    assert len(arrays) == 2
    for array in arrays:
        assert aliyun_option_problems("rds", "CreateDdrInstance", shlex.split(array), "RESTORE") == []


@pytest.mark.parametrize(("line", "problem"), [
    ("aliyun rds CreateDdrInstance --SourceDBInstanceId x", "no parameter --SourceDBInstanceId"),
    ("aliyun rds CreateDDRInstance --SourceRegion x", "no such operation"),
    ("aliyun rds ResetAccountPassword --AccountName", "needs a value"),
])
def test_the_aliyun_check_catches_mistakes(line, problem):
    command, = aws_commands(line + "\n", "aliyun")
    assert any(problem in p for p in aliyun_problems(command)), aliyun_problems(command)


def _service(name: str):
    return botocore.session.get_session().get_service_model(name)


def test_the_json_the_runbook_hands_to_the_aws_cli_fits_the_operations():
    text = (SCRIPTS / "failover_aws.sh").read_text()
    # The password goes in --cli-input-json on stdin: its keys are ModifyDBInstance's.
    template = re.search(r"printf '(\{\"DBInstanceIdentifier\".*?\})'", text).group(1)
    modify = json.loads(template.replace('"%s"', '"value"'))
    validate_parameters(modify, _service("rds").operation_model("ModifyDBInstance").input_shape)
    change = re.search(r"<<JSON\n(.*?)\nJSON", text, re.S).group(1)
    batch = json.loads(re.sub(r"\$\w+", "value", change))
    validate_parameters({"HostedZoneId": "Z1", "ChangeBatch": batch},
                        _service("route53").operation_model("ChangeResourceRecordSets").input_shape)


def _keys_the_runbook_sets(script: str) -> set[str]:
    text = (SCRIPTS / script).read_text()
    keys = set(re.findall(r"^\s*set_config (?:\"?)([\w.]+)", text, re.M))
    keys |= set(re.findall(r"--secret --path ([\w.]+)", text)) | set(re.findall(r"secret_config ([\w.]+)", text))
    keys |= {k.split("[")[0] for k in re.findall(r'set_config "(aws\.\w+)\[', text)}
    return keys - {"target", "\"$@\"", "$1"}


def test_the_standby_stack_as_the_aws_runbook_configures_it_deploys():
    """The keys failover_aws.sh sets, with values of their shape, on a prepared standby stack file."""
    certificate = f"arn:aws:acm:us-west-2:{aws_mock.ACCOUNT}:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    standby = {
        "aws": {"region": "us-west-2", "vpcId": "vpc-0a1b2c3d4e5f60718", "certificateArn": certificate,
                "privateSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
                "publicSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"]},
        "postgres": {"mode": "external", "host": "dify-prod-postgres-rds-dr.c9akciq32.us-west-2.rds.amazonaws.com",
                     "user": "dify", "sslMode": "require", "maxConnections": 1600, "password": "restored-Passw0rd"},
        "objectStorage": {"mode": "external", "kind": "s3", "bucket": "dify-prod-files-replica-bucket-b06de43",
                          "region": "us-west-2", "useWorkloadIdentity": True},
        "redis": {"mode": "managed"},
    }
    given = {f"{section}.{key}" for section, values in standby.items() for key in values} - {
        "aws.certificateArn"}
    assert _keys_the_runbook_sets("failover_aws.sh") == given
    run = run_program("prod", overrides=standby, secret_keys=("postgres",))
    assert not run.of_type(T["rds"]) and not run.of_type(T["bucket"])
    policies = {r.name: json.loads(r.plain["policy"]) for r in run.of_type(T["role_policy"])}
    api = policies["dify-prod-dify-api-policy"]["Statement"]
    assert {s["Resource"] for s in api} == {"arn:aws:s3:::dify-prod-files-replica-bucket-b06de43",
                                            "arn:aws:s3:::dify-prod-files-replica-bucket-b06de43/*"}
    assert [s["Action"] for s in policies["dify-prod-dify-startup-policy"]["Statement"]] == [["s3:ListBucket"]]
    assert "restored-Passw0rd" not in json.dumps([r.plain for r in run.resources
                                                  if r.typ != "kubernetes:core/v1:Secret"])


def test_the_dr_runs_pass_every_policy_gate(aws_dr, ali_dr):
    """The standby resources meet the policy pack's gates (protection, encryption, bucket guards...)."""
    import pulumi

    from tests.test_policy import all_violations

    pulumi.runtime.set_all_config({f"{PROJECT}:size": "production"}, [])
    try:
        assert all_violations(aws_dr) == {}
        assert all_violations(ali_dr) == {}
    finally:
        pulumi.runtime.set_all_config({}, [])
