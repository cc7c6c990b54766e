"""Runs the real program for a stack file under Pulumi's mocks and records what it declares."""

from __future__ import annotations

import asyncio
import hashlib
import json
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tests import mocks_alicloud, mocks_aws

ROOT = Path(__file__).resolve().parent.parent
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"]
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE_SIG = "1b47061264138c4ac30d75fd1eb44270"
LB_HOSTNAME = "k8s-dify-nginx-0123456789.elb.us-east-1.amazonaws.com"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE_SIG


def reveal(value: Any) -> Any:
    """The plain value of an input, secret or not, recursively."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


@dataclass
class Declared:
    typ: str
    name: str
    inputs: dict[str, Any]
    custom: bool
    provider: str
    depends_on: set[str] = field(default_factory=set)
    parent: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def plain(self) -> dict[str, Any]:
        return reveal(self.inputs)


@dataclass
class Run:
    resources: list[Declared] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, typ: str) -> list[Declared]:
        return [r for r in self.resources if r.typ == typ]

    def named(self, typ: str, name: str) -> Declared:
        matches = [r for r in self.of_type(typ) if r.name == name]
        assert len(matches) == 1, f"expected one {typ} named {name}, found {[r.name for r in self.of_type(typ)]}"
        return matches[0]


def _name_of(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Also records each resource's explicit dependencies and parent, which mocks do not see."""

    def __init__(self, mocks: "RecordingMocks") -> None:
        super().__init__(mocks)
        self.recorder = mocks

    def RegisterResource(self, request):
        self.recorder.links[(request.type, request.name)] = (
            {_name_of(urn) for urn in request.dependencies},
            _name_of(request.parent) if request.parent else "",
            {"protect": request.protect, "retainOnDelete": request.retainOnDelete},
        )
        return super().RegisterResource(request)


# Realistic answers for each cloud's data sources and computed outputs: `call(token, args)` and
# `state(type, name, inputs)` return None for what they do not know.
CLOUD_MOCKS = (mocks_aws, mocks_alicloud)


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, run: Run) -> None:
        self.run = run
        self.links: dict[tuple[str, str], tuple[set[str], str, dict[str, Any]]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.run.resources.append(
            Declared(args.typ, args.name, dict(args.inputs), args.custom, args.provider or "")
        )
        state = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            # A realistic alphanumeric value, distinct per resource, returned as the provider does.
            state["result"] = generated_password(args.name, int(args.inputs.get("length", 32)))
        if args.typ.startswith("kubernetes:"):
            # The provider names objects that give no metadata.name: `<logical name>-<8 chars>`.
            metadata = state.get("metadata") if isinstance(state.get("metadata"), dict) else {}
            if "name" not in metadata:
                state["metadata"] = {**metadata, "name": autoname(args.name)}
            spec = args.inputs.get("spec") if isinstance(args.inputs.get("spec"), dict) else {}
            if (args.typ == "kubernetes:core/v1:Service" and spec.get("type") == "LoadBalancer") or \
                    args.typ == "kubernetes:networking.k8s.io/v1:Ingress":
                # What the cloud's controller reports once the balancer exists.
                state["status"] = {"loadBalancer": {"ingress": [{"hostname": LB_HOSTNAME}]}}
        for module in CLOUD_MOCKS:
            state.update(module.state(args.typ, args.name, dict(args.inputs)) or {})
        if args.typ == "docker:index/remoteImage:RemoteImage":
            state["imageId"] = f"sha256:{abs(hash(args.inputs['name'])):064x}"[:71]
            state["repoDigest"] = f"{args.inputs['name']}@sha256:{'0' * 64}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        for module in CLOUD_MOCKS:
            answer = module.call(args.token, dict(args.args))
            if answer is not None:
                return answer
        return {}


def generated_password(name: str, length: int = 32) -> str:
    """The value the mock gives the RandomPassword `name` (so tests can look for leaks)."""
    return f"{name.replace('-', '')}X9"[:length]


def generated_passwords(run: "Run") -> list[str]:
    return [generated_password(r.name, int(r.inputs.get("length", 32)))
            for r in run.of_type("random:index/randomPassword:RandomPassword")]


def autoname(logical: str) -> str:
    """The name the Kubernetes provider would generate for `logical` (deterministic here)."""
    return f"{logical}-{hashlib.sha1(logical.encode()).hexdigest()[:8]}"


def _integral(value: Any) -> Any:
    """Wire numbers are floats; manifests want integers where the value is whole."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def api_version_kind(typ: str) -> tuple[str, str]:
    """`kubernetes:apps/v1:Deployment` -> ("apps/v1", "Deployment"); the core group is bare "v1"."""
    _, module, kind = typ.split(":")
    group, version = module.split("/")
    return (version if group == "core" else f"{group}/{version}"), kind


def manifests(run: "Run") -> list[dict[str, Any]]:
    """Every Kubernetes object the program declared, as the manifest the cluster would receive
    (secrets revealed, generated names filled in)."""
    result = []
    for r in run.resources:
        if not (r.custom and r.typ.startswith("kubernetes:")) or r.typ.startswith("kubernetes:helm.sh/"):
            continue
        api_version, kind = api_version_kind(r.typ)
        manifest = _integral(reveal(r.inputs))
        manifest.setdefault("apiVersion", api_version)
        manifest.setdefault("kind", kind)
        metadata = manifest.setdefault("metadata", {})
        metadata.setdefault("name", autoname(r.name))
        result.append(manifest)
    return result


def stack_config(stack: str) -> tuple[dict[str, Any], list[str]]:
    """Config of Pulumi.<stack>.yaml as the engine hands it to the program: JSON for objects,
    and the keys holding a `secure:` value marked secret."""
    path = ROOT / f"Pulumi.{stack}.yaml"
    data = yaml.safe_load(path.read_text()) or {}
    return dict(data.get("config") or {}), []


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return "secure" in value and len(value) == 1 or any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def run_program(
    stack: str = "dev",
    overrides: Optional[dict[str, Any]] = None,
    secret_keys: tuple[str, ...] = (),
    preview: bool = False,
    run: Optional[Run] = None,
) -> Run:
    """Runs __main__.py for Pulumi.<stack>.yaml with `overrides` (short keys) applied on top.

    Keys in `secret_keys` are passed as secrets, as `pulumi config set --secret` would.
    """
    config, _ = stack_config(stack)
    for key, value in (overrides or {}).items():
        full = f"{PROJECT}:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value
    secrets = [f"{PROJECT}:{k}" for k in secret_keys] + [k for k, v in config.items() if _has_secure(v)]
    wire = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}

    run = run if run is not None else Run()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        mocks = RecordingMocks(run)
        pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=RecordingMonitor(mocks))
        pulumi.runtime.set_all_config(wire, secrets)

        def program() -> None:
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

        _sync_await(run_pulumi_func(program))
        for declared in run.resources:
            declared.depends_on, declared.parent, declared.options = mocks.links[(declared.typ, declared.name)]
        stack_resource = pulumi.runtime.get_root_resource()
        for name, value in stack_resource.outputs.items():
            run.outputs[name] = _sync_await(pulumi.Output.from_input(value).future())
    finally:
        pulumi.runtime.set_all_config({}, [])
        pulumi.runtime.reset_options()
        asyncio.set_event_loop(None)
        loop.close()
    return run
