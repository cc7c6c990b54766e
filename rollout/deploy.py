"""Runs the program in this directory on a stack through Pulumi's Automation API."""

from __future__ import annotations

from typing import Callable, Optional

from pulumi import automation as auto

from rollout.answers import Answers, config_keys, superseded_keys
from rollout.stack_file import ROOT, StackFile

SHOWN_OUTPUTS = (("difyUrl", "Dify"), ("installUrl", "First login (create the admin account)"))


def workspace(command: auto.PulumiCommand) -> auto.LocalWorkspace:
    return auto.LocalWorkspace(work_dir=str(ROOT), pulumi_command=command)


def open_stack(answers: Answers, stack_file: StackFile, command: auto.PulumiCommand, action: str) -> auto.Stack:
    """Creates or selects the stack and, unless it is to be destroyed, writes the answers into its config."""
    stack = auto.create_or_select_stack(answers.stack, work_dir=str(ROOT),
                                        opts=auto.LocalWorkspaceOptions(pulumi_command=command))
    if action == "destroy":
        return stack
    for key in superseded_keys(answers, stack_file):
        stack.remove_config(key)
    stack.set_all_config({key: auto.ConfigValue(value) for key, value in config_keys(answers).items()}, path=True)
    return stack


def run(stack: auto.Stack, action: str, on_output: Callable[[str], None],
        on_error: Callable[[str], None]) -> dict[str, Optional[str]]:
    """Runs `action`, streaming Pulumi's progress to `on_output` (and its errors to `on_error`); after
    `up`, the addresses to show (None while not known, e.g. a load balancer still without an address)."""
    stream = {"on_output": on_output, "on_error": on_error, "color": "always"}
    if action == "preview":
        stack.preview(**stream)
        return {}
    if action == "destroy":
        stack.destroy(**stream, show_secrets=False)
        return {}
    outputs = stack.up(**stream, show_secrets=False).outputs
    shown: dict[str, Optional[str]] = {}
    for name, label in SHOWN_OUTPUTS:
        value = outputs.get(name)
        shown[label] = None if value is None or value.secret or not value.value else str(value.value)
    return shown
