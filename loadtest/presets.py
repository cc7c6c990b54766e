"""The load each preset puts on a deployment and the targets it must hold (README, "Load test")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Targets:
    # Requests per second the run must reach (all HTTP requests). Scaled by users/preset users when
    # --users overrides the preset: the target is a throughput per simulated user.
    min_rps: float
    # p95 of a streaming chat's time to its first answer token, a separate figure: it includes the model
    # provider's latency.
    p95_first_token_ms: int
    # p95 of the service API's other requests (file upload, knowledge retrieval).
    p95_service_api_ms: int
    # p95 of the console's requests (login, app and knowledge lists).
    p95_console_ms: int
    # Failed requests (HTTP errors, streams ending in an error event or cut short) over all requests.
    max_error_rate: float


@dataclass(frozen=True)
class Preset:
    name: str
    users: int
    spawn_rate: float
    duration_s: int
    targets: Targets


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("dev", users=5, spawn_rate=1, duration_s=60,
               targets=Targets(min_rps=1, p95_first_token_ms=5000, p95_service_api_ms=2000,
                               p95_console_ms=1500, max_error_rate=0.05)),
        Preset("small", users=25, spawn_rate=5, duration_s=300,
               targets=Targets(min_rps=5, p95_first_token_ms=4000, p95_service_api_ms=1500,
                               p95_console_ms=1000, max_error_rate=0.01)),
        Preset("production", users=100, spawn_rate=10, duration_s=600,
               targets=Targets(min_rps=20, p95_first_token_ms=3000, p95_service_api_ms=1000,
                               p95_console_ms=800, max_error_rate=0.005)),
    )
}
