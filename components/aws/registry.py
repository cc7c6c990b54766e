"""ECR: private repositories for Dify's images and for plugin images, and optionally a pull-through
cache rule so the cluster pulls every Docker Hub image (Dify's, nginx, squid, pgvector) through ECR.

Repositories scan on push, keep tags immutable, and expire untagged images after a week and all but
the newest 30. The Dify repositories are named like Docker Hub's under `<prefix>/`, so after copying
images there (e.g. `crane copy`), `registry.mirror = <registry>/<prefix>` pulls from them.
With the pull-through cache, ECR creates the cached repositories itself on first pull (from a
creation template with the same scanning and lifecycle); the nodes' role may create and import into
repositories under that prefix only.
"""

from __future__ import annotations

import json
from typing import Optional, Sequence

import pulumi
from components.aws.sdk import aws

from components import images
from components.aws import iam

DOCKER_HUB = "registry-1.docker.io"
LIFECYCLE = json.dumps({"rules": [
    {"rulePriority": 1, "description": "Expire untagged images after 7 days",
     "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7},
     "action": {"type": "expire"}},
    {"rulePriority": 2, "description": "Keep the newest 30 images",
     "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 30},
     "action": {"type": "expire"}},
]}, sort_keys=True)


def registry_host(account: str, region: str) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def pull_through_statements(partition: str, region: str, account: str, prefix: str) -> list[iam.Statement]:
    """What a node needs so that its first pull of an image creates and fills the cached repository."""
    return [{"Effect": "Allow", "Action": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
             "Resource": f"arn:{partition}:ecr:{region}:{account}:repository/{prefix}/*"}]


class EcrRegistry(pulumi.ComponentResource):
    def __init__(self, name: str, *, account: str, region: str, partition: str,
                 docker_hub_credential_arn: Optional[str] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:aws:EcrRegistry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.host = registry_host(account, region)
        self.repositories: dict[str, aws.ecr.Repository] = {}
        for repository in (*images.DIFY_REPOSITORIES, "plugins"):
            path = f"{name}/{repository}"
            repo = aws.ecr.Repository(
                f"{name}-{repository.rsplit('/', 1)[-1]}", name=path, image_tag_mutability="IMMUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "AES256"}], force_delete=False, opts=child)
            aws.ecr.LifecyclePolicy(f"{name}-{repository.rsplit('/', 1)[-1]}", repository=repo.name,
                                    policy=LIFECYCLE, opts=pulumi.ResourceOptions(parent=repo))
            self.repositories[repository] = repo
        self.urls: dict[str, pulumi.Output[str]] = {k: r.repository_url for k, r in self.repositories.items()}

        self.mirror: Optional[str] = None
        self.node_statements: Sequence[iam.Statement] = ()
        if docker_hub_credential_arn:
            prefix = f"{name}-docker-hub"
            aws.ecr.PullThroughCacheRule(
                f"{name}-docker-hub", ecr_repository_prefix=prefix, upstream_registry_url=DOCKER_HUB,
                credential_arn=docker_hub_credential_arn, opts=child)
            aws.ecr.RepositoryCreationTemplate(
                f"{name}-docker-hub", prefix=prefix, applied_fors=["PULL_THROUGH_CACHE"],
                description=f"{name}: Docker Hub images cached for the cluster",
                image_tag_mutability="MUTABLE", encryption_configurations=[{"encryption_type": "AES256"}],
                lifecycle_policy=LIFECYCLE, opts=child)
            self.mirror = f"{self.host}/{prefix}"
            self.node_statements = pull_through_statements(partition, region, account, prefix)
        self.register_outputs({"host": self.host})
