"""The `nginx` section: per-client request-rate and connection limits at the entry router, and the
proxies whose X-Forwarded-For names the client. Unset limits come from the `size` preset
(components.dify.rate_limits.PRESETS)."""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from pydantic import Field, field_validator

from components.dify import rate_limits
from components.dify.rate_limits import RateLimits
from stacks import rules
from stacks.strict import Strict


class RateLimitSettings(Strict):
    enabled: bool = True
    api_rps: Optional[int] = Field(default=None, ge=1, le=100_000)
    api_burst: Optional[int] = Field(default=None, ge=0, le=100_000)
    login_rpm: Optional[int] = Field(default=None, ge=1, le=6000)
    login_burst: Optional[int] = Field(default=None, ge=0, le=1000)
    connections_per_ip: Optional[int] = Field(default=None, ge=1, le=100_000)

    @field_validator("connections_per_ip")
    @classmethod
    def _room_for_streams(cls, value: Optional[int]) -> Optional[int]:
        if value is not None and value < rate_limits.MIN_CONNECTIONS_PER_IP:
            raise ValueError(
                f"{value} is too few: every streamed answer (chat-messages, workflows/run) holds one for as long "
                "as it runs, beside the console's own parallel requests; give at least "
                f"{rate_limits.MIN_CONNECTIONS_PER_IP}")
        return value


class NginxSettings(Strict):
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    # Where a balancer or Ingress in front of nginx sends from; unset: the private and CGNAT ranges.
    trusted_proxies: Optional[list[str]] = None

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: Optional[list[str]]) -> Optional[list[str]]:
        if value is None:
            return None
        for cidr in value:
            network = rules.cidr(cidr, "10.0.0.0/16")
            if network.prefixlen == 0:
                raise ValueError(f"{cidr} trusts every address: any client could name another in X-Forwarded-For "
                                 "and escape its limits; give the ranges of your balancer or Ingress controller")
        return value

    def limits(self, size: str, viewer_address_header: Optional[str] = None) -> Optional[RateLimits]:
        """The preset's limits with this stack's overrides (None when turned off); a CDN in front names
        the header it passes the viewer's address in."""
        chosen = self.rate_limit
        if not chosen.enabled:
            return None
        given = {field: getattr(chosen, field) for field in ("api_rps", "api_burst", "login_rpm", "login_burst",
                                                              "connections_per_ip")
                 if getattr(chosen, field) is not None}
        return replace(rate_limits.PRESETS[size], **given, viewer_address_header=viewer_address_header)

    def proxies(self, behind_proxy: bool) -> tuple[str, ...]:
        """The ranges trusted for X-Forwarded-For: as given, else the private ones where a balancer or
        Ingress speaks HTTP to nginx; none where clients connect to nginx themselves."""
        if self.trusted_proxies is not None:
            return tuple(self.trusted_proxies)
        return rate_limits.PRIVATE_RANGES if behind_proxy else ()
