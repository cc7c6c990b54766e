"""The stack's outputs as its last update left them: what the restore points kept and which engine ran
each self-hosted data service. Read with the engine's own builtin for stack outputs (what a
StackReference to the stack itself reads), answered synchronously, so the program decides what to
declare from them before it declares anything."""

from __future__ import annotations

import time
from typing import Any

import pulumi

READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs"
# The engine rewrites a file backend's checkpoint while the update runs; a read that meets the file
# half-written fails with this, and succeeds a moment later.
TORN_CHECKPOINT = "failed to load checkpoint"
ATTEMPTS, PAUSE_S = 5, 0.4


def outputs() -> dict[str, Any]:
    """Empty before the first update. A failed read stops the program: guessing "none" would delete the
    restore points kept so far and let a data-mode switch through."""
    name = "/".join(part for part in (pulumi.get_organization(), pulumi.get_project(), pulumi.get_stack()) if part)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            result = pulumi.runtime.invoke(READ_STACK_OUTPUTS, {"name": name})
            break
        except Exception as error:  # the SDK raises a bare Exception for a failed invoke
            if TORN_CHECKPOINT not in str(error) or attempt == ATTEMPTS:
                raise
            time.sleep(PAUSE_S * attempt)
    value = result.value or {}
    return dict(value.get("outputs") or {})
