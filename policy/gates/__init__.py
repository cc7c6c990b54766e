"""The gates a Dify stack must pass. Security gates apply to every stack; high-availability and
deletion-protection to production stacks only (stack.py)."""

from .buckets import buckets_are_guarded, no_public_buckets
from .databases import no_public_databases
from .encryption import encryption_at_rest, encryption_in_transit
from .isolation import dify_api_namespace_restricted, egress_excepts_metadata, no_shared_cloud_role
from .kubernetes import kubernetes_resource_limits, kubernetes_secrets_from_secret_refs
from .resilience import deletion_protection, high_availability

POLICIES = [
    no_public_databases,
    no_public_buckets,
    buckets_are_guarded,
    encryption_at_rest,
    encryption_in_transit,
    high_availability,
    deletion_protection,
    kubernetes_secrets_from_secret_refs,
    kubernetes_resource_limits,
    egress_excepts_metadata,
    no_shared_cloud_role,
    dify_api_namespace_restricted,
]
