"""The policy pack (policy/) on what the real program declares under mocks: the production stacks
(Pulumi.alicloud.yaml, Pulumi.prod.yaml) and the k8s stack pass every gate, and a copy of one of
their resources with one setting broken is reported."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from typing import Any, Callable, Optional

import grpc
import pulumi
import pytest
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy import (
    EnforcementLevel, PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions, ResourceValidationArgs,
    ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import unknown_checking_proxy

from policy.gates import POLICIES
from policy.gates.inputs import opens_to_internet
from policy.gates.kubernetes import looks_secret
from policy.gates.stack import PROJECT as POLICY_PROJECT
from tests.captured import captured
from tools.mocks import PROJECT, ROOT, Declared, Run, stack_config

GATES = {p.name: p for p in POLICIES}
STACKS = ("alicloud", "prod", "k8s")


def size_of(stack: str) -> str:
    return stack_config(stack)[0].get(f"{PROJECT}:size", "dev")


@pytest.fixture
def size():
    """Sets the stack's `size` the way the Pulumi CLI hands stack config to a policy pack."""
    def set_size(value: str) -> None:
        pulumi.runtime.set_all_config({f"{PROJECT}:size": value}, [])
    yield set_size
    pulumi.runtime.set_all_config({}, [])


def options(r: Declared, protect: Optional[bool] = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=r.options["protect"] if protect is None else protect, ignore_changes=[],
        delete_before_replace=None, aliases=[], custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[], parent=r.parent_urn or None,
    )


def props_of(inputs: dict[str, Any]) -> Any:
    """Inputs as the policy SDK hands them to a policy: secrets unwrapped, unknowns guarded."""
    return unknown_checking_proxy(deserialize_properties(copy.deepcopy(inputs)))


def validation_args(r: Declared, protect: Optional[bool] = None) -> ResourceValidationArgs:
    return ResourceValidationArgs(r.typ, props_of(r.inputs), r.urn, r.name, options(r, protect), None)


def violations(policy: ResourceValidationPolicy, r: Declared, protect: Optional[bool] = None,
               args: Optional[ResourceValidationArgs] = None) -> list[str]:
    found: list[str] = []
    policy.validate(args or validation_args(r, protect), lambda message, urn=None: found.append(message))
    return found


def stack_violations(policy: StackValidationPolicy, resources: list[Declared]) -> list[str]:
    by_urn = {r.urn: PolicyResource(r.typ, props_of(r.inputs), r.urn, r.name, options(r), None, None, [], {})
              for r in resources}
    for r in resources:
        by_urn[r.urn].property_dependencies = {
            key: [by_urn[urn] for urn in urns if urn in by_urn] for key, urns in r.property_dependencies.items()}
    found: list[str] = []
    policy.validate(StackValidationArgs(list(by_urn.values()), {}), lambda message, urn=None: found.append(message))
    return found


def all_violations(run: Run) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    args = [(r, validation_args(r)) for r in run.resources]
    for policy in POLICIES:
        if isinstance(policy, StackValidationPolicy):
            found = stack_violations(policy, run.resources)
        else:
            found = [f"{r.name}: {m}" for r, a in args for m in violations(policy, r, args=a)]
        if found:
            result[policy.name] = found
    return result


def first(stack: str, typ: str) -> Declared:
    """The first `typ` the stack declares; `<type>+secret-env`: the first whose pod takes a Secret."""
    typ, _, wanted = typ.partition("+")
    found = [r for r in captured(stack).of_type(typ) if wanted != "secret-env" or _secret_envs(r.inputs)]
    assert found, f"{stack} declares no {typ} {wanted}"
    return min(found, key=lambda r: r.name)


def mutated(r: Declared, change: Callable[[dict[str, Any]], None]) -> Declared:
    copied = copy.deepcopy(r)
    change(copied.inputs)
    return copied


def pod(inputs: dict[str, Any]) -> dict[str, Any]:
    return inputs["spec"]["template"]["spec"]


def _secret_envs(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """The credentials a pod takes from Secrets."""
    return [e for c in pod(inputs)["containers"] for e in c.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {}) and looks_secret(e["name"])]


def secret_env(inputs: dict[str, Any]) -> dict[str, Any]:
    return _secret_envs(inputs)[0]


# -- the pack ------------------------------------------------------------------------------------

ADVISORY: set[str] = set()


def test_every_gate_is_mandatory_and_named_once():
    assert len(GATES) == len(POLICIES) == 12
    assert all((p.enforcement_level == EnforcementLevel.ADVISORY) == (p.name in ADVISORY) for p in POLICIES)
    pack = (ROOT / "policy" / "PulumiPolicy.yaml").read_text()
    assert yaml.safe_load(pack)["runtime"]["name"] == "python"
    assert json.loads((ROOT / "policy" / "advisory.json").read_text()) == {"all": "advisory"}


def test_the_pack_reads_the_programs_project():
    assert POLICY_PROJECT == PROJECT


def test_the_pinned_sdk_is_the_one_tested():
    pins = (ROOT / "policy" / "requirements.txt").read_text().split()
    dev_pins = (ROOT / "requirements-dev.txt").read_text().split()
    assert "pulumi-policy==1.21.0" in pins and "pulumi-policy==1.21.0" in dev_pins
    from importlib.metadata import version
    assert version("pulumi-policy") == "1.21.0"


# -- the real program passes ---------------------------------------------------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_the_stack_passes_every_gate(stack, size):
    size(size_of(stack))
    assert all_violations(captured(stack)) == {}


def _network_policy(stack: str, name: str) -> Declared:
    (found,) = [r for r in captured(stack).of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
                if r.inputs["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_egress_to_the_internet_without_the_metadata_exception_is_reported(stack):
    policy = _network_policy(stack, "dify-api-egress")
    assert violations(GATES["egress-excepts-metadata"], policy) == []

    def drop(address: str) -> Callable[[dict[str, Any]], None]:
        def change(inputs: dict[str, Any]) -> None:
            for rule in inputs["spec"]["egress"]:
                for peer in rule.get("to", []):
                    if "ipBlock" in peer and peer["ipBlock"]["cidr"] == "0.0.0.0/0":
                        peer["ipBlock"]["except"] = [e for e in peer["ipBlock"]["except"]
                                                     if not e.startswith(address)]
        return change
    for dropped, named in (("169.254.", "169.254.169.254"), ("100.", "100.100.100.200")):
        found = violations(GATES["egress-excepts-metadata"], mutated(policy, drop(dropped)))
        assert any(named in m for m in found), (dropped, found)


def test_a_shared_cloud_role_between_api_and_plugin_daemon_is_reported():
    resources = [copy.deepcopy(r) for r in captured("prod").resources]
    assert stack_violations(GATES["no-shared-cloud-role"], resources) == []
    accounts = {r.inputs["metadata"]["name"]: r for r in resources if r.typ == "kubernetes:core/v1:ServiceAccount"}
    shared = copy.deepcopy(resources)
    for r in shared:
        if r.typ == "kubernetes:core/v1:ServiceAccount" and r.inputs["metadata"]["name"] == "plugin-daemon":
            r.inputs["metadata"]["annotations"] = dict(accounts["api"].inputs["metadata"]["annotations"])
    assert stack_violations(GATES["no-shared-cloud-role"], shared) == [
        "the api and the plugin daemon run with the same cloud role (service accounts api and plugin-daemon): "
        "give the plugin daemon its own"]
    for r in resources:
        labels = r.inputs.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
        if r.typ == DEPLOYMENT and labels.get("app.kubernetes.io/name") == "plugin-daemon":
            pod(r.inputs)["serviceAccountName"] = "api"
    assert stack_violations(GATES["no-shared-cloud-role"], resources) == [
        "the api and the plugin daemon run with the same cloud role (service accounts api and api): "
        "give the plugin daemon its own"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_api_in_a_namespace_below_restricted_is_reported(stack):
    resources = [copy.deepcopy(r) for r in captured(stack).resources]
    assert stack_violations(GATES["dify-api-namespace-restricted"], resources) == []
    for r in resources:
        if r.typ == "kubernetes:core/v1:Namespace":
            r.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "baseline"
    assert stack_violations(GATES["dify-api-namespace-restricted"], resources) == [
        "Dify's api runs in namespace dify, which enforces Pod Security baseline: enforce restricted there"]


def test_the_production_stacks_are_production():
    assert size_of("alicloud") == size_of("prod") == "production"


# -- a broken copy is reported -------------------------------------------------------------------

RDS, KVSTORE = "alicloud:rds/instance:Instance", "alicloud:kvstore/instance:Instance"
OSS, OSS_ACL = "alicloud:oss/bucket:Bucket", "alicloud:oss/bucketAcl:BucketAcl"
OSS_BLOCK = "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock"
OSS_SSE = "alicloud:oss/bucketServerSideEncryption:BucketServerSideEncryption"
AWS_RDS, CACHE = "aws:rds/instance:Instance", "aws:elasticache/replicationGroup:ReplicationGroup"
S3, S3_BLOCK = "aws:s3/bucket:Bucket", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PARAMS = "aws:rds/parameterGroup:ParameterGroup"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
WITH_SECRET = "+secret-env"


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda inputs: inputs.__setitem__(key, value)


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda inputs: inputs.pop(key, None)


def _plain_secret(inputs: dict[str, Any]) -> None:
    env = secret_env(inputs)
    env.pop("valueFrom")
    env["value"] = "hunter2-plain"


def _config_map_secret(inputs: dict[str, Any]) -> None:
    env = secret_env(inputs)
    env["valueFrom"] = {"configMapKeyRef": {"name": "settings", "key": env["name"]}}


def _url_with_password(inputs: dict[str, Any]) -> None:
    pod(inputs)["containers"][0].setdefault("env", []).append(
        {"name": "BROKER", "value": "redis://:hunter2@cache.internal:6379/1"})


def _no_memory_limit(inputs: dict[str, Any]) -> None:
    pod(inputs)["containers"][0]["resources"]["limits"].pop("memory")


def _no_resources(inputs: dict[str, Any]) -> None:
    pod(inputs)["containers"][0].pop("resources")


def _s3_rules(rules: list) -> Callable[[dict[str, Any]], None]:
    return _set("rules", rules)


BROKEN = [
    # (stack, gate, type, change, what the message names)
    ("alicloud", "no-public-databases", RDS, lambda i: i["securityIps"].append("0.0.0.0/0"), "securityIps"),
    ("alicloud", "no-public-databases", KVSTORE, _set("securityIps", ["0.0.0.0/0"]), "securityIps"),
    ("alicloud", "no-public-databases", KVSTORE, _set("enablePublic", True), "enablePublic"),
    ("alicloud", "no-public-buckets", OSS_ACL, _set("acl", "public-read"), "acl"),
    ("alicloud", "no-public-buckets", OSS, _set("acl", "public-read-write"), "acl"),
    ("alicloud", "no-public-buckets", OSS_BLOCK, _set("blockPublicAccess", False), "blockPublicAccess"),
    ("alicloud", "encryption-at-rest", OSS_SSE, _drop("sseAlgorithm"), "sseAlgorithm"),
    ("alicloud", "encryption-at-rest", OSS, _set("serverSideEncryptionRule", {"sseAlgorithm": "none"}), "sseAlgorithm"),
    ("alicloud", "high-availability", RDS, _set("category", "Basic"), "category"),
    ("alicloud", "high-availability", RDS, _drop("zoneIdSlaveA"), "zoneIdSlaveA"),
    ("alicloud", "high-availability", KVSTORE, _drop("secondaryZoneId"), "secondaryZoneId"),
    ("alicloud", "deletion-protection", RDS, _set("deletionProtection", False), "deletionProtection"),
    ("alicloud", "deletion-protection", KVSTORE, _set("instanceReleaseProtection", False), "instanceReleaseProtection"),
    ("alicloud", "deletion-protection", OSS, _set("forceDestroy", True), "forceDestroy"),
    ("alicloud", "kubernetes-secrets-from-secret-refs", DEPLOYMENT + WITH_SECRET, _plain_secret, "Secret"),
    ("alicloud", "kubernetes-secrets-from-secret-refs", DEPLOYMENT + WITH_SECRET, _config_map_secret, "Secret"),
    ("alicloud", "kubernetes-secrets-from-secret-refs", DEPLOYMENT, _url_with_password, "BROKER"),
    ("alicloud", "kubernetes-resource-limits", DEPLOYMENT, _no_memory_limit, "memory"),
    ("k8s", "kubernetes-resource-limits", STATEFULSET, _no_resources, "cpu or memory"),
    ("k8s", "kubernetes-secrets-from-secret-refs", STATEFULSET + WITH_SECRET, _plain_secret, "Secret"),
    ("prod", "no-public-databases", AWS_RDS, _set("publiclyAccessible", True), "publiclyAccessible"),
    ("prod", "no-public-buckets", S3_BLOCK, _set("blockPublicPolicy", False), "blockPublicPolicy"),
    ("prod", "no-public-buckets", S3, _set("acl", "public-read"), "acl"),
    ("prod", "encryption-at-rest", AWS_RDS, _set("storageEncrypted", False), "storageEncrypted"),
    ("prod", "encryption-at-rest", CACHE, _set("atRestEncryptionEnabled", False), "atRestEncryptionEnabled"),
    ("prod", "encryption-at-rest", S3_SSE, _s3_rules([]), "sseAlgorithm"),
    ("prod", "encryption-in-transit", CACHE, _set("transitEncryptionEnabled", False), "transitEncryptionEnabled"),
    ("prod", "encryption-in-transit", CACHE, _set("transitEncryptionMode", "preferred"), "transitEncryptionMode"),
    ("prod", "encryption-in-transit", PARAMS, _set("parameters", [{"name": "rds.force_ssl", "value": "0"}]),
     "rds.force_ssl"),
    ("prod", "high-availability", AWS_RDS, _set("multiAz", False), "multiAz"),
    ("prod", "high-availability", CACHE, _set("automaticFailoverEnabled", False), "automaticFailoverEnabled"),
    ("prod", "high-availability", CACHE, _set("multiAzEnabled", False), "multiAzEnabled"),
    ("prod", "deletion-protection", AWS_RDS, _set("deletionProtection", False), "deletionProtection"),
    ("prod", "deletion-protection", S3, _set("forceDestroy", True), "forceDestroy"),
    ("prod", "kubernetes-resource-limits", DEPLOYMENT, _no_memory_limit, "memory"),
    ("prod", "kubernetes-secrets-from-secret-refs", DEPLOYMENT + WITH_SECRET, _plain_secret, "Secret"),
]


@pytest.mark.parametrize("stack,gate,typ,change,named", BROKEN,
                         ids=[f"{c[0]}-{c[1]}-{c[2].rsplit(':', 1)[-1]}-{c[4]}" for c in BROKEN])
def test_a_broken_copy_is_reported(stack, gate, typ, change, named, size):
    size(size_of(stack))
    original = first(stack, typ)
    assert violations(GATES[gate], original) == []
    found = violations(GATES[gate], mutated(original, change))
    assert found and any(named in message for message in found), found
    assert "hunter2" not in " ".join(found), "a violation message must not repeat the value"


@pytest.mark.parametrize("stack,typ", [("alicloud", RDS), ("alicloud", KVSTORE), ("alicloud", OSS),
                                       ("prod", AWS_RDS), ("prod", CACHE), ("prod", S3)])
def test_a_stateful_resource_without_protect_is_reported(stack, typ, size):
    size("production")
    assert any("protect" in m for m in violations(GATES["deletion-protection"], first(stack, typ), protect=False))


@pytest.mark.parametrize("stack,guard,named", [
    ("alicloud", OSS_BLOCK, "public access block"), ("alicloud", OSS_SSE, "server-side encryption"),
    ("prod", S3_BLOCK, "public access block"), ("prod", S3_SSE, "server-side encryption"),
])
def test_a_bucket_without_its_guard_is_reported(stack, guard, named):
    resources = [r for r in captured(stack).resources if r.typ != guard]
    found = stack_violations(GATES["buckets-are-guarded"], resources)
    assert found and all(named in message for message in found), found


def test_a_guard_is_matched_by_bucket_name_when_no_dependency_is_recorded():
    resources = [copy.deepcopy(r) for r in captured("alicloud").resources]
    for r in resources:
        r.property_dependencies = {}
    assert stack_violations(GATES["buckets-are-guarded"], resources) == []
    for r in resources:
        if r.typ == OSS_BLOCK:
            r.inputs["bucket"] = "another-bucket"
    assert stack_violations(GATES["buckets-are-guarded"], resources) == ["bucket dify-alicloud-files-bucket has no "
                                                                         "public access block"]


def test_production_gates_hold_only_in_production(size):
    single_zone = mutated(first("prod", AWS_RDS), _set("multiAz", False))
    public = mutated(first("prod", AWS_RDS), _set("publiclyAccessible", True))
    size("small")
    assert violations(GATES["high-availability"], single_zone) == []
    assert violations(GATES["deletion-protection"], first("prod", AWS_RDS), protect=False) == []
    assert violations(GATES["no-public-databases"], public), "security gates hold on every stack"
    size("production")
    assert violations(GATES["high-availability"], single_zone)


@pytest.mark.parametrize("name,secret", [
    ("PGPASSWORD", True), ("DB_PASSWORD", True), ("SECRET_KEY", True), ("INNER_API_KEY_FOR_PLUGIN", True),
    ("AWS_ACCESS_KEY_ID", True), ("GITHUB_TOKEN", True), ("REDISCLI_AUTH", True), ("DB_USERNAME", False),
    ("ALIYUN_OSS_AUTH_VERSION", False),
    ("INDEXING_MAX_SEGMENTATION_TOKENS_LENGTH", False), ("PWD", False), ("REDIS_USE_SSL", False),
])
def test_which_env_names_look_like_credentials(name, secret):
    assert looks_secret(name) is secret


@pytest.mark.parametrize("entry,open_", [
    ("0.0.0.0/0", True), ("0.0.0.0", True), ("::/0", True), ("1.0.0.0/4", True),
    ("192.168.0.0/16", False), ("10.0.0.0/8", False), ("47.98.120.33", False), ("127.0.0.1", False),
])
def test_which_whitelist_entries_open_to_the_internet(entry, open_):
    assert opens_to_internet(entry) is open_


# -- the pack as the Pulumi CLI runs it ----------------------------------------------------------

def test_the_pack_serves_its_gates_over_the_analyzer_protocol():
    """Starts the pack the way the CLI's Python analyzer does (`python -m pulumi.policy`), with the
    stack's config in PULUMI_CONFIG, and asks it to analyze a broken RDS instance."""
    env = {**os.environ, "PULUMI_CONFIG": json.dumps({f"{PROJECT}:size": "production"}),
           "PULUMI_PROJECT": PROJECT, "PULUMI_STACK": "prod", "PULUMI_DRY_RUN": "true",
           "PYTHONUNBUFFERED": "1"}  # the CLI runs it with `python -u`: the port must not wait in a buffer
    server = subprocess.Popen([sys.executable, "-m", "pulumi.policy", "127.0.0.1:0", "."], cwd=ROOT / "policy",
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = server.stdout.readline().strip()
        assert port.isdigit(), server.stderr.read() if server.poll() is not None else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            analyzer = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
            assert sorted(p.name for p in info.policies) == sorted(GATES)
            assert {p.name for p in info.policies if p.enforcementLevel != proto.MANDATORY} == ADVISORY

            rds = mutated(first("prod", AWS_RDS), lambda i: i.update(multiAz=False, publiclyAccessible=True))
            properties = json_format.ParseDict(rds.inputs, struct_pb2.Struct())
            response = analyzer.Analyze(proto.AnalyzeRequest(
                urn=rds.urn, type=rds.typ, name=rds.name, properties=properties,
                options=proto.AnalyzerResourceOptions(protect=True)), timeout=30)
            reported = {d.policyName: d.enforcementLevel for d in response.diagnostics}
            assert reported == {"high-availability": proto.MANDATORY, "no-public-databases": proto.MANDATORY}
    finally:
        server.kill()
        server.wait()
        server.stdout.close()
        server.stderr.close()
