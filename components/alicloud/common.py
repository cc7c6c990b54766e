"""Shared helpers for the Alibaba Cloud components: names, tags, passwords that meet the services'
complexity rules, and the options every stateful resource gets."""

from __future__ import annotations

import re
from typing import Optional

import pulumi
import pulumi_random as random

TAGS_KEY = "dify-stack"


def tags(extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    return {"app": "dify", "managed-by": "pulumi", TAGS_KEY: pulumi.get_stack(), **(extra or {})}


def cloud_name(name: str, limit: int = 64) -> str:
    """A name Alibaba Cloud accepts almost everywhere: starts with a letter, [a-z0-9-], bounded."""
    cleaned = re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")
    return cleaned[:limit].rstrip("-")


def complex_password(name: str, parent: pulumi.Resource, length: int = 30) -> pulumi.Output[str]:
    """RDS and Tair want 8-32 characters from at least three classes: upper, lower, digits.
    No specials, so the value is safe in URLs (the Celery broker URL) and shell words."""
    password = random.RandomPassword(
        name,
        length=length,
        special=False,
        min_upper=2,
        min_lower=2,
        min_numeric=2,
        opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["result"]),
    )
    return pulumi.Output.secret(password.result)


def stateful(parent: pulumi.Resource, production: bool, **extra) -> pulumi.ResourceOptions:
    """Options of a resource holding data: protected from `pulumi destroy` in production."""
    return pulumi.ResourceOptions(parent=parent, protect=production, **extra)
