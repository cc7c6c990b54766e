"""ACR Enterprise Edition: the registry for plugin images and the mirror of Dify's images.

- A new instance (prepaid: ACR EE is sold by subscription only; `pulumi destroy` cannot release
  it, so it is retained on delete and must be released in the console when no longer wanted), or
  an existing one by ID.
- A private namespace for plugin images.
- Mirrors: for each Docker Hub image the deployment pulls, a public repository in a namespace
  named like the image's Docker Hub namespace (`langgenius`, `library`, `ubuntu`, `pgvector`) and
  an artifact subscription rule that copies the pinned tag from Docker Hub. Pods pull
  `<instance>-registry-vpc.<region>.cr.aliyuncs.com/<namespace>/<repo>:<tag>`, the same path
  `registry.mirror` produces, so clusters in mainland China do not depend on Docker Hub.
- VPC access: the instance's VPC endpoint is linked to the cluster's VPC (with a PrivateZone
  record), so nodes pull over the VPC; the mirror namespaces are public, readable without
  credentials from inside the VPC only (no internet endpoint is opened).
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

import pulumi
from components.alicloud.sdk import alicloud

from components.alicloud.common import cloud_name, stateful, tags
from components.alicloud.network import AlicloudNetwork
from stacks.settings_alicloud import AcrSettings, Sizing


def vpc_endpoint(instance_name: str, region: str) -> str:
    return f"{instance_name}-registry-vpc.{region}.cr.aliyuncs.com"


def split_image(image: str) -> tuple[str, str, str]:
    """`langgenius/dify-api:1.13.3` -> ("langgenius", "dify-api", "1.13.3"); official images
    (`nginx:1.30`) live in Docker Hub's `library` namespace."""
    repository, tag = image.rsplit(":", 1)
    namespace, _, repo = repository.rpartition("/")
    return namespace or "library", repo, tag


class AcrRegistry(pulumi.ComponentResource):
    endpoint: str
    instance_id: pulumi.Output[str]

    def __init__(self, name: str, settings: AcrSettings, region: str, sizing: Sizing,
                 network: AlicloudNetwork, mirrored_images: Sequence[str] = (),
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:alicloud:AcrRegistry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if settings.instance_id is not None:
            assert settings.endpoint is not None
            self.instance_id = pulumi.Output.from_input(settings.instance_id)
            self.endpoint = settings.endpoint
        else:
            instance_name = settings.instance_name or cloud_name(name.removesuffix("-registry"), 30)
            instance = alicloud.cr.RegistryEnterpriseInstance(
                f"{name}-acr",
                instance_name=instance_name,
                instance_type=settings.edition,
                payment_type="Subscription",
                period=1,
                renew_period=1,
                renewal_status="AutoRenewal",
                image_scanner="ACR",
                tags=tags(),
                # Prepaid: destroy cannot release it. Keep it (and its images) out of `destroy`.
                opts=stateful(self, sizing.production, retain_on_delete=True),
            )
            self.instance_id = instance.id
            self.endpoint = vpc_endpoint(instance_name, region)

        self.plugin_namespace = alicloud.cs.RegistryEnterpriseNamespace(
            f"{name}-plugins", instance_id=self.instance_id, name=settings.plugin_namespace,
            auto_create=False, default_visibility="PRIVATE", opts=child,
        )
        self.ready: list[pulumi.Resource] = [self.plugin_namespace]
        if settings.link_vpc:
            self.ready.append(alicloud.cr.VpcEndpointLinkedVpc(
                f"{name}-vpc", instance_id=self.instance_id, vpc_id=network.vpc_id,
                vswitch_id=network.vswitch_ids[0], module_name="Registry",
                enable_create_dns_record_in_pvzt=True, opts=child,
            ))
        self.mirrors: dict[str, str] = {}
        if settings.mirror_images:
            self._mirror(name, mirrored_images)
        self.register_outputs({"endpoint": self.endpoint, "instanceId": self.instance_id})

    def _mirror(self, name: str, mirrored_images: Sequence[str]) -> None:
        namespaces: dict[str, alicloud.cs.RegistryEnterpriseNamespace] = {}
        for image in sorted(set(mirrored_images)):
            namespace, repo, tag = split_image(image)
            if namespace not in namespaces:
                namespaces[namespace] = alicloud.cs.RegistryEnterpriseNamespace(
                    f"{name}-mirror-{namespace}", instance_id=self.instance_id, name=namespace,
                    auto_create=False, default_visibility="PUBLIC", opts=pulumi.ResourceOptions(parent=self),
                )
            ns = namespaces[namespace]
            logical = f"{name}-mirror-{namespace}-{repo}"
            repository = alicloud.cs.RegistryEnterpriseRepo(
                logical, instance_id=self.instance_id, namespace=ns.name, name=repo, repo_type="PUBLIC",
                summary=f"Mirror of docker.io/{namespace}/{repo}",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[ns]),
            )
            rule = alicloud.cr.ArtifactSubscriptionRule(
                logical, instance_id=self.instance_id,
                source_provider="DOCKER_HUB", source_namespace_name=namespace, source_repo_name=repo,
                namespace_name=ns.name, repo_name=repository.name,
                tag_regexp=f"^{re.escape(tag)}$", tag_count=1, override=False, accelerate=False,
                platforms=["linux/amd64"],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[repository]),
            )
            self.ready.append(rule)
            self.mirrors[image] = f"{self.endpoint}/{namespace}/{repo}:{tag}"
