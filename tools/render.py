"""Writes what a stack declares as files, offline: the program runs under the test mocks (no
credentials, no Pulumi CLI), and every secret is redacted.

    python -m tools.render <stack> <out-dir>      # e.g. python -m tools.render k8s build/render/k8s

Layout of <out-dir> (one YAML per file, keys sorted, so two renders diff line by line):
    stack.yaml                                   stack, project, resource count, outputs
    resources/<package>/<module.Type>/<name>.yaml   type, name, parent, provider, options, inputs
    kubernetes/<namespace>/<Kind>/<name>.yaml    each object as the cluster receives it
    docker/containers/<name>.yaml                each Docker container's spec
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from tools.mocks import PROJECT, ROOT, Declared, Run, run_program
from tools.mocks.kubernetes import is_object, manifest
from tools.mocks.wire import integral, secret_scalars
from tools.redact import Redactor

INDEX = "stack.yaml"
TREES = ("resources", "kubernetes", "docker")
CONTAINER = "docker:index/container:Container"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def ref(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::<parent types>$<type>::<name>` -> `<type>::<name>`."""
    _, _, qualified_type, name = urn.split("::", 3)
    return f"{qualified_type.split('$')[-1]}::{name}"


def resource_path(r: Declared) -> str:
    package, module_type = r.typ.split(":", 1)
    return f"resources/{_safe(package)}/{_safe(module_type.replace(':', '.').replace('/', '.'))}/{_safe(r.name)}.yaml"


def resource_document(r: Declared, redact: Redactor) -> dict[str, Any]:
    document: dict[str, Any] = {"type": r.typ, "name": r.name, "custom": r.custom, **r.options}
    if r.parent_urn:
        document["parent"] = ref(r.parent_urn)
    if r.provider:
        document["provider"] = ref(r.provider.rsplit("::", 1)[0])
    if r.depends_on:
        document["dependsOn"] = sorted(r.depends_on)
    document["inputs"] = redact(integral(r.inputs))
    return document


def manifest_path(m: dict[str, Any]) -> str:
    metadata = m["metadata"]
    namespace = metadata.get("namespace") or "_cluster"
    return f"kubernetes/{_safe(str(namespace))}/{_safe(m['kind'])}/{_safe(str(metadata['name']))}.yaml"


def documents(run: Run, stack: str) -> dict[str, Any]:
    """Every file of the render, by relative path, secrets redacted."""
    known = set(run.secrets)
    for r in run.resources:
        known |= secret_scalars(r.inputs)
    known |= {v for k, v in run.outputs.items() if k in run.secret_outputs and isinstance(v, str)}
    redact = Redactor(known)

    outputs = {k: redact.hide(v) if k in run.secret_outputs else redact(integral(v)) for k, v in run.outputs.items()}
    files: dict[str, Any] = {INDEX: {"stack": stack, "project": PROJECT, "resources": len(run.resources),
                                     "outputs": outputs}}

    def add(path: str, document: Any) -> None:
        if path in files:
            raise ValueError(f"two declarations map to {path}")
        files[path] = document

    for r in run.resources:
        add(resource_path(r), resource_document(r, redact))
        if is_object(r):
            m = redact(manifest(r))
            add(manifest_path(m), m)
        elif r.typ == CONTAINER:
            add(f"docker/containers/{_safe(r.plain.get('name') or r.name)}.yaml", redact(integral(r.inputs)))
    return files


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True,
                     width=4096)


def prepare(out: Path) -> None:
    """Empties `out` of a previous render; refuses a folder holding anything else."""
    if out.exists() and any(out.iterdir()):
        if not (out / INDEX).is_file():
            raise SystemExit(f"{out} is not empty and holds no {INDEX}: give an empty folder or a previous render")
        (out / INDEX).unlink()
        for tree in TREES:
            shutil.rmtree(out / tree, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def write(files: dict[str, Any], out: Path) -> list[Path]:
    prepare(out)
    written = []
    for relative in sorted(files):
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump(files[relative]))
        written.append(path)
    return written


def render(stack: str, out: Path) -> list[Path]:
    if not (ROOT / f"Pulumi.{stack}.yaml").is_file():
        raise SystemExit(f"no stack file Pulumi.{stack}.yaml in {ROOT}")
    return write(documents(run_program(stack), stack), out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.render", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stack", help="the stack whose Pulumi.<stack>.yaml to render, e.g. dev, k8s, alicloud")
    parser.add_argument("out", type=Path, help="folder to write (emptied first if it holds a previous render)")
    args = parser.parse_args(argv)
    written = render(args.stack, args.out)
    print(f"{len(written)} files in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
