"""The stack's outputs as its last update left them: what the restore points kept and which engine ran
each self-hosted data service. Read with the engine's own builtin for stack outputs (what a
StackReference to the stack itself reads), answered synchronously, so the program decides what to
declare from them before it declares anything."""

from __future__ import annotations

from typing import Any

import pulumi

READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs"


def outputs() -> dict[str, Any]:
    """Empty before the first update. A failed read stops the program: guessing "none" would delete the
    restore points kept so far and let a data-mode switch through."""
    name = "/".join(part for part in (pulumi.get_organization(), pulumi.get_project(), pulumi.get_stack()) if part)
    result = pulumi.runtime.invoke(READ_STACK_OUTPUTS, {"name": name})
    value = result.value or {}
    return dict(value.get("outputs") or {})
