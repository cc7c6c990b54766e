"""What the engine would replace between two runs of the program: a resource is replaced when an input
its provider treats as immutable (force-new) changes, unless the program ignores changes to it.

The table lists, per resource type, the input paths (wire names) the providers replace on; for types
marked `ALL`, any input change replaces. It covers the types that hold data and the types whose
replacement the change-plan tests reason about; other types are updated in place or are stateless.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Iterable, Optional

from components.restore_points import OUTPUT as RESTORE_POINTS
from tools.mocks import Declared, Run, run_program

ALL = ("",)
IMMUTABLE: dict[str, tuple[str, ...]] = {
    "kubernetes:apps/v1:StatefulSet": ("metadata.name", "metadata.namespace", "spec.selector", "spec.serviceName",
                                       "spec.volumeClaimTemplates", "spec.podManagementPolicy"),
    "kubernetes:apps/v1:Deployment": ("metadata.name", "metadata.namespace", "spec.selector"),
    "kubernetes:core/v1:PersistentVolumeClaim": ("metadata.name", "spec.accessModes", "spec.storageClassName",
                                                 "spec.volumeName", "spec.selector"),
    "kubernetes:core/v1:PersistentVolumeClaimPatch": ("metadata.name", "metadata.namespace"),
    "kubernetes:core/v1:Namespace": ("metadata.name",),
    # The program makes every Secret and ConfigMap immutable: new content is a new object.
    "kubernetes:core/v1:Secret": ("metadata.name", "type", "data", "stringData"),
    "kubernetes:core/v1:ConfigMap": ("metadata.name", "data", "binaryData"),
    "kubernetes:batch/v1:Job": ("metadata.name", "spec.template", "spec.selector"),
    "docker:index/volume:Volume": ALL,
    "docker:index/container:Container": ALL,
    "docker:index/network:Network": ALL,
    "random:index/randomPassword:RandomPassword": ALL,
    "random:index/randomBytes:RandomBytes": ALL,
    "aws:rds/instance:Instance": ("identifier", "engine", "dbName", "username", "storageEncrypted", "kmsKeyId",
                                  "dbSubnetGroupName", "characterSetName"),
    "aws:elasticache/replicationGroup:ReplicationGroup": ("replicationGroupId", "engine", "atRestEncryptionEnabled",
                                                          "subnetGroupName", "port", "kmsKeyId"),
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix"),
    "aws:eks/cluster:Cluster": ("name", "roleArn", "encryptionConfig"),
    "aws:eks/nodeGroup:NodeGroup": ("clusterName", "nodeGroupName", "nodeRoleArn", "subnetIds", "instanceTypes",
                                    "amiType", "capacityType", "diskSize"),
    "alicloud:rds/instance:Instance": ("engine", "zoneId", "vswitchId", "instanceChargeType"),
    "alicloud:rds/database:Database": ALL,
    "alicloud:rds/account:Account": ("instanceId", "accountName", "accountType"),
    "alicloud:kvstore/instance:Instance": ("zoneId", "vswitchId", "engineVersion"),
    "alicloud:oss/bucket:Bucket": ("bucket",),
    "alicloud:cs/managedKubernetes:ManagedKubernetes": ("name", "podCidr", "serviceCidr", "workerVswitchIds"),
    # The vector stores (vectorStore.kind): their names, network placement and engine are fixed at creation.
    "aws:opensearch/domain:Domain": ("domainName", "vpcOptions.subnetIds", "encryptAtRest"),
    "alicloud:gpdb/instance:Instance": ("engine", "engineVersion", "dbInstanceMode", "zoneId", "vswitchId",
                                        "segStorageType"),
    "alicloud:gpdb/account:Account": ("dbInstanceId", "accountName", "accountType"),
    "alicloud:ots/instance:Instance": ("name", "description"),
    "random:index/randomString:RandomString": ALL,
    # CloudNativePG: a renamed Cluster is a new, empty one; its Pooler's and Database's cluster is immutable.
    "kubernetes:postgresql.cnpg.io/v1:Cluster": ("metadata.name", "metadata.namespace"),
    "kubernetes:postgresql.cnpg.io/v1:Database": ("metadata.name", "metadata.namespace", "spec.cluster", "spec.name"),
    "kubernetes:postgresql.cnpg.io/v1:Pooler": ("metadata.name", "metadata.namespace", "spec.cluster"),
    "aws:rds/snapshot:Snapshot": ALL,
    "alicloud:rds/rdsBackup:RdsBackup": ALL,
    "kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisReplication": ("metadata.name", "metadata.namespace"),
    "kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisSentinel": ("metadata.name", "metadata.namespace"),
    "kubernetes:helm.sh/v3:Release": ("name", "namespace"),
}
# Types whose replacement or deletion would lose data (or the credential that opens it).
STATEFUL = {
    "kubernetes:apps/v1:StatefulSet", "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:core/v1:PersistentVolumeClaimPatch", "kubernetes:core/v1:Namespace",
    "docker:index/volume:Volume", "random:index/randomPassword:RandomPassword",
    "aws:rds/instance:Instance", "aws:elasticache/replicationGroup:ReplicationGroup", "aws:s3/bucket:Bucket",
    "alicloud:rds/instance:Instance", "alicloud:rds/database:Database", "alicloud:rds/account:Account",
    "alicloud:kvstore/instance:Instance", "alicloud:oss/bucket:Bucket",
    "aws:opensearch/domain:Domain", "alicloud:gpdb/instance:Instance", "alicloud:gpdb/account:Account",
    "alicloud:ots/instance:Instance",
    # Deleting a Cluster deletes its volume claims (they are owned by it).
    "kubernetes:postgresql.cnpg.io/v1:Cluster",
    "aws:rds/snapshot:Snapshot", "alicloud:rds/rdsBackup:RdsBackup",
    # The operator's StatefulSet (and, without storage.keepAfterDelete, its claims) go with it.
    "kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisReplication",
    # A chart's StatefulSets (distributed SeaweedFS) go with its release.
    "kubernetes:helm.sh/v3:Release",
}
DATA_SERVICES = ("postgres", "redis", "object-store")
# Generated tokens of the agent's services that hold nothing: when the agent is turned off they go with
# its services, and new ones come with them.
DISPOSABLE_SECRETS = ("-agent-api-token", "-agent-server-secret-key", "-local-sandbox-token")


def _get(inputs: Any, path: str) -> Any:
    value = inputs
    for part in filter(None, path.split(".")):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _ignored(resource: Declared, path: str) -> bool:
    return any(path == p or path.startswith(p + ".") for p in resource.options.get("ignoreChanges", []))


def replaced_paths(before: Declared, after: Declared) -> list[str]:
    """The immutable inputs that differ between the two declarations of one resource."""
    paths = IMMUTABLE.get(before.typ, ())
    if paths == ALL:
        return ["*"] if before.plain != after.plain else []
    return [p for p in paths if not _ignored(after, p) and _get(before.plain, p) != _get(after.plain, p)]


def is_stateful(resource: Declared) -> bool:
    if resource.typ.startswith("random:") and resource.name.endswith(DISPOSABLE_SECRETS):
        return False
    if resource.typ in STATEFUL:
        return True
    # A data service's own Secret (its password) and files (its init SQL, its credentials).
    return resource.typ in ("kubernetes:core/v1:Secret", "kubernetes:core/v1:ConfigMap") and any(
        resource.name.endswith((f"-{d}-env", f"-{d}-files", f"-{d}-credentials")) for d in DATA_SERVICES)


def plan(before: Run, after: Run) -> dict[str, list[tuple[str, str, Any]]]:
    """{"replace": [(type, name, paths)], "delete": [(type, name, None)], "create": [...]}."""
    old = {(r.typ, r.name): r for r in before.resources if r.custom}
    new = {(r.typ, r.name): r for r in after.resources if r.custom}
    result: dict[str, list[tuple[str, str, Any]]] = {"replace": [], "delete": [], "create": []}
    for key, resource in old.items():
        if key not in new:
            result["delete"].append((*key, None))
        elif paths := replaced_paths(resource, new[key]):
            result["replace"].append((*key, paths))
    result["create"] = [(*key, None) for key in new if key not in old]
    return result


def stateful_losses(before: Run, after: Run) -> list[tuple[str, str, Any]]:
    """Replacements and deletions of resources that hold data, between the two runs."""
    steps = plan(before, after)
    old = {(r.typ, r.name): r for r in before.resources}
    return [step for step in steps["replace"] + steps["delete"] if is_stateful(old[(step[0], step[1])])]


def names(steps: Iterable[tuple[str, str, Any]]) -> set[str]:
    return {name for _, name, _ in steps}


@lru_cache(maxsize=None)
def _cached(stack: str, overrides: str, kept: str) -> Run:
    previous = {RESTORE_POINTS: json.loads(kept)} if kept else None
    return run_program(stack, overrides=json.loads(overrides), previous_outputs=previous)


def cached_run(stack: str, overrides: dict[str, Any], after: Optional[Run] = None) -> Run:
    """One run per (stack, overrides, previous run) for the whole test session: the runs are
    deterministic, and tests only read them. `after`: the run before this one on the same stack, whose
    outputs (the restore points it kept) this run reads."""
    kept = after.outputs.get(RESTORE_POINTS) if after is not None else None
    return _cached(stack, json.dumps(overrides, sort_keys=True), json.dumps(kept) if kept is not None else "")
