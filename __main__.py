"""Deploys Dify to the target the stack's config names."""

import pulumi

from stacks import targets
from stacks.loader import load

config = load()
for key, value in targets.deploy(config).items():
    pulumi.export(key, value)
