"""What the pack knows of the stack under analysis.

The Pulumi CLI hands the stack's config to a policy pack (as it does to the program), so the pack
reads the same `size` key the program sizes itself by: a stack is production when its
`dify-deploy:size` is `production`.
"""

from __future__ import annotations

import pulumi

PROJECT = "dify-deploy"


def is_production() -> bool:
    return pulumi.Config(PROJECT).get("size") == "production"
