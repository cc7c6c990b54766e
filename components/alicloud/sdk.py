"""pulumi-alicloud, imported once with its import-time deprecation warnings silenced.

The package and several of its modules (dns among them) warn about deprecated classes the moment
they are imported, whether or not the program uses them; under `-W error::DeprecationWarning` that
would stop the program. The classes used here were checked against the pinned 4.x SDK and are the
non-deprecated ones (`slb.ApplicationLoadBalancer`, `dns.AlidnsRecord`, `cs.RegistryEnterprise*`,
`oss.BucketAcl`...)."""

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import pulumi_alicloud as alicloud
    import pulumi_alicloud.cms  # noqa: F401
    import pulumi_alicloud.cr  # noqa: F401
    import pulumi_alicloud.cs  # noqa: F401
    import pulumi_alicloud.dns  # noqa: F401
    import pulumi_alicloud.ecs  # noqa: F401
    import pulumi_alicloud.gpdb  # noqa: F401
    import pulumi_alicloud.kvstore  # noqa: F401
    import pulumi_alicloud.log  # noqa: F401
    import pulumi_alicloud.oss  # noqa: F401
    import pulumi_alicloud.ots  # noqa: F401
    import pulumi_alicloud.ram  # noqa: F401
    import pulumi_alicloud.rds  # noqa: F401
    import pulumi_alicloud.slb  # noqa: F401
    import pulumi_alicloud.vpc  # noqa: F401

    # Submodules load lazily, on first attribute access: load them here, inside the filter.
    for _used in ("cms.Alarm", "cr.ArtifactSubscriptionRule", "cs.KubernetesAddon", "cs.ManagedKubernetes",
                  "dns.AlidnsRecord", "ecs.EipAddress", "gpdb.Instance", "kvstore.Instance", "log.Project",
                  "oss.Bucket", "ots.Instance", "ram.AccessKey", "rds.Instance",
                  "slb.ApplicationLoadBalancer", "vpc.Network"):
        _module, _class = _used.split(".")
        getattr(getattr(alicloud, _module), _class)

__all__ = ["alicloud"]
