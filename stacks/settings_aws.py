"""The `aws` section of the stack config (target aws)."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from stacks.strict import Strict


class AwsSettings(Strict):
    region: str = "us-east-1"
    availability_zones: int = Field(default=3, ge=2, le=3)
    hosted_zone: Optional[str] = None
