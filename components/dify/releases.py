"""The Dify releases this program knows: every image tag and the optional services of each.

Every tag is the one upstream's own docker/docker-compose.yaml pins at the release's commit:
1.13.3 at 59639ca9 (the bump, where the lts/1.13.x branch starts; the branch has no later release),
1.16.1 at 59b879d2 (the bump, #39653). The env keys of each release's compose and env files are in
tests/fixtures/upstream/<version>.json, and the tests check the catalog against them. Newer releases
(1.17.x) are deployable by naming every tag (dify.version plus the *Version keys); their compose files
could not be read here, so they are not in the table.

Upstream's compose runs squid as `ubuntu/squid:latest`; here squid is pinned (components.images).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from components import images

Feature = Literal["agent", "collaboration"]
FEATURES: tuple[Feature, ...] = ("agent", "collaboration")


@dataclass(frozen=True)
class Release:
    """One Dify release. `features` are the optional parts it has: `agent` (the Agent v2 runtime:
    agent backend, its local sandbox and that sandbox's SSRF proxy), `collaboration` (the api's
    websocket server for workflow collaboration)."""

    version: str
    sandbox: str
    plugin_daemon: str
    agent_backend: Optional[str] = None
    local_sandbox: Optional[str] = None
    features: frozenset[Feature] = frozenset()
    # The daemon image runs `/app/commandline migrate` (no lock) and then `/app/main`, a server that
    # does not migrate (daemon >= 0.5.8), so the migration can run apart, once. Older daemons
    # migrate inside the server as it starts.
    daemon_migrates_apart: bool = False
    lts: bool = False
    # Env keys that not every release reads; the catalog sets one only where the release has it.
    optional_env: frozenset[str] = frozenset()
    # nginx locations beyond 1.13's that go to the api.
    extra_api_routes: tuple[str, ...] = ()
    # The api image ships `celery_healthcheck`, a Celery app for pings that does not load Dify.
    celery_healthcheck: bool = False
    # The queues the worker consumes (api/docker/entrypoint.sh's community-edition default).
    worker_queues: tuple[str, ...] = ()
    # The plugin daemon serves Prometheus metrics at /metrics/ on its port (daemon >= 0.6:
    # internal/server/http_server.go, PROMETHEUS_ENABLED defaulting to true).
    daemon_metrics: bool = False

    @property
    def api(self) -> str:
        return self.version

    @property
    def web(self) -> str:
        return self.version

    def known_env(self, env: dict) -> dict:
        """`env` without the optional keys this release does not read."""
        return {k: v for k, v in env.items() if k not in OPTIONAL_ENV or k in self.optional_env}

    def images(self) -> dict[str, str]:
        """Dify's own images of this release (Docker Hub references), by role."""
        refs = {
            "api": f"{images.DIFY_API}:{self.api}",
            "web": f"{images.DIFY_WEB}:{self.web}",
            "sandbox": f"{images.DIFY_SANDBOX}:{self.sandbox}",
            "plugin_daemon": f"{images.DIFY_PLUGIN_DAEMON}:{self.plugin_daemon}",
        }
        if "agent" in self.features:
            refs["agent_backend"] = f"{images.DIFY_AGENT_BACKEND}:{self.agent_backend}"
            refs["local_sandbox"] = f"{images.DIFY_AGENT_LOCAL_SANDBOX}:{self.local_sandbox}"
        return refs


# Keys some releases read and others do not (checked against each release's env files by the tests).
OPTIONAL_ENV = frozenset({
    "SERVER_CONSOLE_API_URL", "NEXT_PUBLIC_ENABLE_AGENT_V2", "NEXT_PUBLIC_SOCKET_URL", "ENABLE_COLLABORATION_MODE",
})

_QUEUES_1_13 = (
    "api_token", "dataset", "dataset_summary", "priority_dataset", "priority_pipeline", "pipeline", "mail",
    "ops_trace", "app_deletion", "plugin", "workflow_storage", "conversation", "workflow", "schedule_poller",
    "schedule_executor", "triggered_workflow_dispatcher", "trigger_refresh_executor", "retention",
    "workflow_based_app_execution",
)
_QUEUES_1_16 = _QUEUES_1_13 + ("app_rbac", "trigger_refresh_publisher")

RELEASES: dict[str, Release] = {
    release.version: release
    for release in (
        Release("1.13.3", sandbox="0.2.14", plugin_daemon="0.5.3-local", lts=True, worker_queues=_QUEUES_1_13),
        Release(
            "1.16.1", sandbox="0.2.15", plugin_daemon="0.6.3-local",
            agent_backend="1.16.1", local_sandbox="1.16.1",
            features=frozenset({"agent", "collaboration"}), daemon_migrates_apart=True,
            optional_env=OPTIONAL_ENV, extra_api_routes=("/openapi",), celery_healthcheck=True,
            worker_queues=_QUEUES_1_16, daemon_metrics=True,
        ),
    )
}


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("-", 1)[0].split(".") if part.isdigit())


LTS_VERSION = max((r.version for r in RELEASES.values() if r.lts), key=_key)
DEFAULT_VERSION = max(RELEASES, key=_key)


def nearest_known(version: str) -> Release:
    """The newest known release not newer than `version` (the oldest known one if all are newer):
    an unknown release is assumed to have the services of the release before it."""
    older = [r for r in RELEASES.values() if _key(r.version) <= _key(version)]
    return max(older, key=lambda r: _key(r.version)) if older else min(RELEASES.values(), key=lambda r: _key(r.version))
