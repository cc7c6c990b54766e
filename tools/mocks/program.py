"""Runs the real program for a stack file under Pulumi's mocks and records what it declares."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import pickle
import runpy
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tools.mocks import aws as mocks_aws
from tools.mocks import alicloud as mocks_alicloud
from tools.mocks.wire import reveal, secret_scalars

# The SDK walks the Python stack for every resource to report where it was declared; the mocks read no
# source positions, and the walk is a tenth of a run.
pulumi_resource._get_stack_trace = source_pb2.StackTrace

ROOT = Path(__file__).resolve().parent.parent.parent
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"]
LB_HOSTNAME = "k8s-dify-nginx-0123456789.elb.us-east-1.amazonaws.com"


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
    urn: str = ""
    parent_urn: str = ""
    # Input name -> URNs of the resources its value came from.
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    # URNs of every resource the engine would create this one after (explicit and through inputs).
    dependency_urns: set[str] = field(default_factory=set)

    @property
    def plain(self) -> dict[str, Any]:
        return reveal(self.inputs)


@dataclass
class Run:
    resources: list[Declared] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    # Names of the stack outputs that are secret.
    secret_outputs: set[str] = field(default_factory=set)
    # Every secret string the mocks handed to the program: generated passwords and the values a
    # cloud mock returns as secrets (access keys, kubeconfigs).
    secrets: set[str] = field(default_factory=set)
    # The stacks whose outputs the program read (its own, for the restore points it keeps).
    stack_reads: list[str] = field(default_factory=list)

    def of_type(self, typ: str) -> list[Declared]:
        return [r for r in self.resources if r.typ == typ]

    def named(self, typ: str, name: str) -> Declared:
        matches = [r for r in self.of_type(typ) if r.name == name]
        assert len(matches) == 1, f"expected one {typ} named {name}, found {[r.name for r in self.of_type(typ)]}"
        return matches[0]


def _name_of(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


@dataclass
class _Link:
    urn: str
    parent_urn: str
    depends_on: set[str]
    property_dependencies: dict[str, list[str]]
    options: dict[str, Any]
    dependency_urns: set[str] = field(default_factory=set)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Also records each resource's URN, explicit and per-input dependencies and parent, which mocks
    do not see."""

    def __init__(self, mocks: "RecordingMocks") -> None:
        super().__init__(mocks)
        self.recorder = mocks

    def RegisterResource(self, request):
        self.recorder.links[(request.type, request.name)] = _Link(
            urn=self.make_urn(request.parent, request.type, request.name),
            parent_urn=request.parent,
            depends_on={_name_of(urn) for urn in request.dependencies},
            dependency_urns=set(request.dependencies),
            property_dependencies={key: sorted(deps.urns) for key, deps in request.propertyDependencies.items()
                                   if deps.urns},
            options={"protect": request.protect, "retainOnDelete": request.retainOnDelete,
                     "ignoreChanges": sorted(request.ignoreChanges), "replaceOnChanges": sorted(request.replaceOnChanges),
                     "deleteBeforeReplace": request.deleteBeforeReplace},
        )
        return super().RegisterResource(request)


# Realistic answers for each cloud's data sources and computed outputs: `call(token, args)` and
# `state(type, name, inputs)` return None for what they do not know.
CLOUD_MOCKS = (mocks_aws, mocks_alicloud)


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, run: Run, previous_outputs: Optional[dict[str, Any]] = None,
                 exit_codes: Optional[dict[str, int]] = None) -> None:
        self.run = run
        # Exit codes of the run-once (attached) containers, by name; 0 for the others.
        self.exit_codes = exit_codes or {}
        self.links: dict[tuple[str, str], _Link] = {}
        # The stack's outputs as its last update left them, as the engine's readStackOutputs answers;
        # empty: the stack was never deployed.
        self.previous_outputs = dict(previous_outputs or {})

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.run.resources.append(
            Declared(args.typ, args.name, dict(args.inputs), args.custom, args.provider or "")
        )
        state = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            # A realistic alphanumeric value, distinct per resource, returned as the provider does.
            state["result"] = generated_password(args.name, int(args.inputs.get("length", 32)))
            self.run.secrets.add(state["result"])
        if args.typ == "random:index/randomBytes:RandomBytes":
            raw = generated_bytes(args.name, int(args.inputs.get("length", 32)))
            state.update(base64=base64.b64encode(raw).decode(), hex=raw.hex())
            self.run.secrets |= {state["base64"], state["hex"]}
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
            answer = module.state(args.typ, args.name, dict(args.inputs)) or {}
            self.run.secrets |= secret_scalars(answer)
            state.update(answer)
        if args.typ == "docker:index/container:Container" and args.inputs.get("attach"):
            # The provider waited for it to stop, and reads its exit code.
            state["exitCode"] = self.exit_codes.get(args.name, 0)
        if args.typ == "docker:index/remoteImage:RemoteImage":
            digest = hashlib.sha256(args.inputs["name"].encode()).hexdigest()
            state["imageId"] = f"sha256:{digest}"
            state["repoDigest"] = f"{args.inputs['name']}@sha256:{'0' * 64}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "pulumi:pulumi:readStackOutputs":
            self.run.stack_reads.append(args.args["name"])
            return {"name": args.args["name"], "outputs": self.previous_outputs, "secretOutputNames": []}
        for module in CLOUD_MOCKS:
            answer = module.call(args.token, dict(args.args))
            if answer is not None:
                self.run.secrets |= secret_scalars(answer)
                return answer
        return {}


def generated_password(name: str, length: int = 32) -> str:
    """The value the mock gives the RandomPassword `name` (so tests can look for leaks)."""
    return f"{name.replace('-', '')}X9"[:length]


def generated_bytes(name: str, length: int) -> bytes:
    """The bytes the mock gives the RandomBytes `name`, with the characters base64 makes of them
    (`+`, `/`, padding) among them, as real random bytes would have."""
    return (b"\xfb\xff" + hashlib.sha256(name.encode()).digest() * 2)[:length]


def generated_passwords(run: Run) -> list[str]:
    return [generated_password(r.name, int(r.inputs.get("length", 32)))
            for r in run.of_type("random:index/randomPassword:RandomPassword")]


def autoname(logical: str) -> str:
    """The name the Kubernetes provider would generate for `logical` (deterministic here)."""
    return f"{logical}-{hashlib.sha1(logical.encode()).hexdigest()[:8]}"


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


# A directory where finished runs are kept, keyed by their arguments, so that test modules on any
# worker asking for a run another already made read it back instead (each caller gets its own copy).
RUN_CACHE_ENV = "DIFY_MOCK_RUN_CACHE"


def run_program(
    stack: str = "dev",
    overrides: Optional[dict[str, Any]] = None,
    secret_keys: tuple[str, ...] = (),
    preview: bool = False,
    run: Optional[Run] = None,
    previous_outputs: Optional[dict[str, Any]] = None,
    exit_codes: Optional[dict[str, int]] = None,
) -> Run:
    """Runs __main__.py for Pulumi.<stack>.yaml with `overrides` (short keys) applied on top.

    Keys in `secret_keys` are passed as secrets, as `pulumi config set --secret` would.
    `previous_outputs`: the stack's outputs from its last update (what a later run of the same stack reads);
    `exit_codes`: what run-once Docker containers exit with, by logical name (default 0).
    """
    cache = os.environ.get(RUN_CACHE_ENV)
    if run is not None or not cache:
        return _run_program(stack, overrides, secret_keys, preview, run, previous_outputs, exit_codes)
    # None and empty mean the same to the run (no overrides, never deployed, every container exits 0).
    arguments = json.dumps([stack_config(stack), overrides or {}, sorted(secret_keys), preview, previous_outputs or {},
                            exit_codes or {}], sort_keys=True, default=repr)
    path = Path(cache, hashlib.sha256(arguments.encode()).hexdigest())
    if _made_elsewhere(path):
        return pickle.loads(zlib.decompress(path.read_bytes()))
    lock = path.with_suffix(".lock")
    try:
        finished = _run_program(stack, overrides, secret_keys, preview, None, previous_outputs, exit_codes)
        partial = path.with_suffix(f".{os.getpid()}")
        partial.write_bytes(zlib.compress(pickle.dumps(finished, protocol=pickle.HIGHEST_PROTOCOL), 1))
        partial.replace(path)
    finally:
        lock.unlink(missing_ok=True)
    return finished


def _made_elsewhere(path: Path, patience_s: float = 120) -> bool:
    """Whether the run at `path` is there, waiting while another worker makes it; False (and the lock
    taken) when this caller is to make it, also when the other gave up (a run that fails is not kept)."""
    lock = path.with_suffix(".lock")
    deadline = time.monotonic() + patience_s
    while not path.exists():
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return False
        except FileExistsError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
    return True


def _run_program(
    stack: str,
    overrides: Optional[dict[str, Any]],
    secret_keys: tuple[str, ...],
    preview: bool,
    run: Optional[Run],
    previous_outputs: Optional[dict[str, Any]],
    exit_codes: Optional[dict[str, int]],
) -> Run:
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
        mocks = RecordingMocks(run, previous_outputs, exit_codes)
        pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=RecordingMonitor(mocks))
        pulumi.runtime.set_all_config(wire, secrets)

        def program() -> None:
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

        _sync_await(run_pulumi_func(program))
        for declared in run.resources:
            link = mocks.links[(declared.typ, declared.name)]
            declared.urn, declared.parent_urn = link.urn, link.parent_urn
            declared.depends_on, declared.parent = link.depends_on, _name_of(link.parent_urn) if link.parent_urn else ""
            declared.options, declared.property_dependencies = link.options, link.property_dependencies
            declared.dependency_urns = link.dependency_urns
        stack_resource = pulumi.runtime.get_root_resource()
        for name, value in stack_resource.outputs.items():
            output = pulumi.Output.from_input(value)
            run.outputs[name] = _sync_await(output.future())
            if _sync_await(output.is_secret()):
                run.secret_outputs.add(name)
    finally:
        pulumi.runtime.set_all_config({}, [])
        pulumi.runtime.reset_options()
        asyncio.set_event_loop(None)
        loop.close()
    return run
