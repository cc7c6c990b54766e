"""pulumi-aws, imported once with its import-time deprecation warnings silenced.

`pulumi_aws.s3` warns about its deprecated V2 classes the moment it loads, whether or not the program
uses them; under `-W error::DeprecationWarning` that would stop the program. The classes used here
are the non-deprecated v7 ones (`s3.Bucket`, `s3.BucketVersioning`, ...)."""

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import pulumi_aws as aws

    # Submodules load lazily, on first attribute access: load them here, inside the filter.
    for _used in ("acm.Certificate", "ec2.Vpc", "ecr.Repository", "eks.Cluster", "elasticache.ReplicationGroup",
                  "iam.Role", "kms.Key", "lb.get_hosted_zone_id", "rds.Instance", "route53.Record", "s3.Bucket",
                  "vpc.SecurityGroupIngressRule"):
        _module, _name = _used.split(".")
        getattr(getattr(aws, _module), _name)

__all__ = ["aws"]
