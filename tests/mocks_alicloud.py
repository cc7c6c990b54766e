"""Mock answers for alicloud data sources and computed outputs (tokens starting with `alicloud:`)."""

from __future__ import annotations

from typing import Any, Optional


def call(token: str, args: dict[str, Any]) -> Optional[dict[str, Any]]:
    return None


def state(typ: str, name: str, inputs: dict[str, Any]) -> Optional[dict[str, Any]]:
    return None
