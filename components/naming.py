"""One stack-scoped prefix for every name, and the labels applied to everything."""

from __future__ import annotations

import re

import pulumi


def prefix() -> str:
    return re.sub(r"[^a-z0-9-]", "-", f"dify-{pulumi.get_stack()}".lower())


def labels() -> dict[str, str]:
    return {
        "app.kubernetes.io/part-of": "dify",
        "app.kubernetes.io/managed-by": "pulumi",
        "dify.stack": pulumi.get_stack(),
    }
