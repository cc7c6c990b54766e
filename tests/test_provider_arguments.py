"""Every keyword the program passes to a provider resource or data source exists in the pinned SDK.

Mocks accept any input, so a renamed or misspelt argument (pulumi-aws 7 and pulumi-alicloud 4 renamed
several) would pass every other test and fail only at `pulumi up`; this reads the source instead."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pulumi_docker
import pulumi_kubernetes
import pulumi_random
import pytest

from components.alicloud.sdk import alicloud
from components.aws.sdk import aws

ROOT = Path(__file__).resolve().parent.parent
SDKS = {"aws": aws, "alicloud": alicloud, "k8s": pulumi_kubernetes, "random": pulumi_random, "docker": pulumi_docker}
SOURCES = sorted(p for d in ("components", "stacks") for p in (ROOT / d).rglob("*.py"))


def sdk_calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            dotted = ast.unparse(node.func)
            root = dotted.split(".", 1)[0]
            if root in SDKS and "." in dotted:
                yield node, dotted


def resolve(dotted: str):
    target = SDKS[dotted.split(".", 1)[0]]
    for part in dotted.split(".")[1:]:
        target = getattr(target, part)
    return target


def accepted(target) -> set[str]:
    init = getattr(target, "_internal_init", None) if inspect.isclass(target) else None
    return set(inspect.signature(init or target).parameters) | {"opts"}


def test_the_scan_sees_the_program():
    calls = [dotted for path in SOURCES for _, dotted in sdk_calls(path)]
    assert {"aws.rds.Instance", "alicloud.rds.Instance", "k8s.apps.v1.Deployment", "docker.Container"} <= set(calls)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_provider_arguments_exist_in_the_pinned_sdks(path):
    problems = []
    for node, dotted in sdk_calls(path):
        try:
            target = resolve(dotted)
        except AttributeError:
            problems.append(f"line {node.lineno}: {dotted} does not exist")
            continue
        names = accepted(target)
        problems += [f"line {node.lineno}: {dotted}({kw.arg}=...) is not an argument"
                     for kw in node.keywords if kw.arg is not None and kw.arg not in names]
    assert not problems, "\n".join(problems)
