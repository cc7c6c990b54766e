"""Which engine runs each self-hosted data service (`single`: one pod; `ha`: a replicated engine), and
the guard against switching between them unawares.

A switch starts the new engine empty: the old pod's data does not move by itself. The program
exports the modes it deployed (`selfHostedData`) and reads them back from its own stack's last
update (stacks.last_update); a deployment from before this output counts as single pods for the
services its `internalEndpoints` lists. A switch is refused unless `selfHosted.confirmDataModeSwitch`
names it, before anything is declared.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import pulumi

from stacks import last_update
from stacks.config import StackConfig
from stacks.loader import ConfigError
from stacks.rules import KeyedError

OUTPUT = "selfHostedData"
# The services `selfHosted.highAvailability` moves to a replicated engine.
HA_SERVICES = ("postgres", "redis", "object-store")
SECTIONS = (("postgres", "postgres"), ("redis", "redis"), ("object-store", "object_storage"))


def current_modes(config: StackConfig) -> dict[str, str]:
    """service -> mode, for the self-hosted services."""
    ha = config.self_hosted.high_availability and config.target != "docker"
    return {service: "ha" if ha and service in HA_SERVICES else "single"
            for service, attribute in SECTIONS if getattr(config, attribute).mode == "self-hosted"}


def previous_modes(outputs: Mapping[str, Any]) -> dict[str, str]:
    """The modes of the last update, from its outputs (empty for a stack never deployed)."""
    recorded = outputs.get(OUTPUT)
    if isinstance(recorded, Mapping):
        return {str(k): str(v) for k, v in recorded.items()}
    endpoints = outputs.get("internalEndpoints")
    if isinstance(endpoints, Mapping):
        return {service: "single" for service, _ in SECTIONS if service in endpoints}
    return {}


def switch_problem(previous: Mapping[str, str], current: Mapping[str, str],
                   confirmed: Optional[str]) -> Optional[KeyedError]:
    switches = sorted({f"{previous[s]}-to-{current[s]}" for s in current
                       if s in previous and previous[s] != current[s]})
    unconfirmed = [s for s in switches if s != confirmed]
    if not unconfirmed:
        return None
    services = ", ".join(s for s in current if s in previous and previous[s] != current[s])
    return KeyedError(
        "selfHosted.confirmDataModeSwitch",
        f"selfHosted.highAvailability switches {services} {unconfirmed[0].replace('-to-', ' -> ')}: the new engine "
        "starts empty and the old one's data does not move by itself. Migrate the data first (README: \"HA "
        "self-hosted data\"), then confirm with `pulumi config set --path selfHosted.confirmDataModeSwitch "
        f"{unconfirmed[0]}` (and remove the key after the update)"
    )


def check_switch(config: StackConfig) -> None:
    """Stops the program on an unconfirmed switch from the last update's modes (nothing to check, and no
    read, when no service is self-hosted now)."""
    current = current_modes(config)
    if not current:
        return
    problem = switch_problem(previous_modes(last_update.outputs()), current,
                             config.self_hosted.confirm_data_mode_switch)
    if problem is not None:
        raise ConfigError(f"{pulumi.get_project()}:{problem.key}: {problem}")
