"""Reading resource inputs as the engine hands them to a policy (wire names, camelCase)."""

from __future__ import annotations

import ipaddress
from typing import Any, Mapping


def is_true(props: Mapping[str, Any], key: str) -> bool:
    return props.get(key) is True


def entries(value: Any) -> list[str]:
    """A whitelist given as a list or as one comma-separated string."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


def opens_to_internet(entry: str) -> bool:
    """A whitelist entry that admits any address, or a public range wider than a /8."""
    if entry in ("0.0.0.0", "%"):
        return True
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return network.prefixlen == 0 or (not network.is_private and network.prefixlen < 8)
