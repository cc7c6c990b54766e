"""The `alicloud` section of the stack config (target alicloud)."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from stacks.strict import Strict


class AlicloudSettings(Strict):
    region: str = "cn-hangzhou"
    zones: list[str] = Field(default_factory=list)
    certificate_id: Optional[str] = None
