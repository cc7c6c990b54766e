"""The slowest chain of a first `pulumi up`, from the program's own dependency graph.

    venv/bin/python scripts/critical_path.py            # prod (aws) and alicloud
    venv/bin/python scripts/critical_path.py k8s dev    # any stack files

The program runs under the test mocks; every resource waits for what it depends on (explicitly, through
its inputs, on a component's children, and on its provider). Each resource type is weighted with a
typical creation time (CREATION_MINUTES: the clouds' stated typical durations where they state one,
otherwise the usual observed range's middle; unknown types count 0.1 min). The output is the chain that
decides the wall time, so that no slow resource waits on another without need. An estimate, not a test.
"""

from __future__ import annotations

import argparse
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.mocks import Run, run_program  # noqa: E402

# Minutes per resource type for a first create.
CREATION_MINUTES = {
    # AWS: EKS control plane ~10 min, a managed node group ~3-5, RDS Multi-AZ ~15-20, ElastiCache
    # replication group ~10-15, NAT gateway ~2, ACM DNS validation ~2-5 (after the record exists).
    "aws:eks/cluster:Cluster": 10, "aws:eks/nodeGroup:NodeGroup": 4, "aws:eks/addon:Addon": 1.5,
    "aws:rds/instance:Instance": 15, "aws:elasticache/replicationGroup:ReplicationGroup": 12,
    "aws:ec2/natGateway:NatGateway": 2, "aws:acm/certificateValidation:CertificateValidation": 3,
    "aws:ec2/eip:Eip": 0.2, "aws:kms/key:Key": 0.3, "aws:ecr/repository:Repository": 0.2,
    # Alibaba Cloud: ACK managed cluster ~10-15 min, node pool ~5, ApsaraDB RDS HA ~15, Tair/Redis ~8,
    # ACR Enterprise instance ~10, NAT gateway ~2, CLB ~1.
    "alicloud:cs/managedKubernetes:ManagedKubernetes": 12, "alicloud:cs/nodePool:NodePool": 5,
    "alicloud:rds/instance:Instance": 15, "alicloud:kvstore/instance:Instance": 8,
    "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance": 10,
    "alicloud:vpc/natGateway:NatGateway": 2, "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer": 1,
    # Kubernetes: Helm releases with their pods ~1.5, Deployments/StatefulSets ready ~1.5 (image pulls),
    # Jobs to completion ~2 (migrations of an empty database), an Ingress's ALB ~3.
    "kubernetes:helm.sh/v3:Release": 1.5, "kubernetes:apps/v1:Deployment": 1.5,
    "kubernetes:apps/v1:StatefulSet": 1.5, "kubernetes:batch/v1:Job": 2,
    "kubernetes:networking.k8s.io/v1:Ingress": 3,
    # Docker: an image pull ~1, a container to healthy ~0.5.
    "docker:index/remoteImage:RemoteImage": 1, "docker:index/container:Container": 0.5,
}
DEFAULT_MINUTES = 0.1


def graph(run: Run) -> tuple[dict[str, str], dict[str, set[str]]]:
    """(urn -> type, urn -> the custom resources' URNs it waits for)."""
    types = {r.urn: r.typ for r in run.resources}
    custom = {r.urn for r in run.resources if r.custom}
    children: dict[str, set[str]] = {}
    for r in run.resources:
        children.setdefault(r.parent_urn, set()).add(r.urn)

    def descendants(urn: str) -> set[str]:
        found = set()
        for child in children.get(urn, ()):
            found |= {child} | descendants(child)
        return found

    waits: dict[str, set[str]] = {}
    for r in run.resources:
        if not r.custom:
            continue
        deps = set(r.dependency_urns)
        if r.provider:
            deps.add(r.provider.rsplit("::", 1)[0])
        expanded = set()
        for dep in deps:
            expanded |= {dep} if dep in custom else descendants(dep) & custom
        waits[r.urn] = expanded - {r.urn}
    return types, waits


def critical_path(run: Run) -> tuple[float, list[tuple[str, float]]]:
    types, waits = graph(run)

    @lru_cache(maxsize=None)
    def finish(urn: str) -> tuple[float, tuple[str, ...]]:
        own = CREATION_MINUTES.get(types.get(urn, ""), DEFAULT_MINUTES)
        before = max((finish(dep) for dep in waits.get(urn, ()) if dep in waits), default=(0.0, ()))
        return before[0] + own, before[1] + (urn,)

    total, chain = max((finish(urn) for urn in waits), default=(0.0, ()))
    return total, [(urn, CREATION_MINUTES.get(types[urn], DEFAULT_MINUTES)) for urn in chain]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stacks", nargs="*", default=["prod", "alicloud"])
    args = parser.parse_args()
    sys.setrecursionlimit(10000)
    for stack in args.stacks:
        total, chain = critical_path(run_program(stack))
        print(f"{stack}: slowest chain {total:.1f} min over {len(chain)} resources")
        for urn, minutes in chain:
            typ, name = urn.rsplit("::", 2)[-2].rsplit("$", 1)[-1], urn.rsplit("::", 1)[-1]
            if minutes >= 0.5:
                print(f"  {minutes:5.1f}  {typ}  {name}")


if __name__ == "__main__":
    main()
