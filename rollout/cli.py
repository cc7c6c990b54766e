"""`python -m rollout`: the command line, its questions, and the order of the steps."""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Optional, Sequence

from pulumi.automation import CommandError, PulumiCommand

from rollout import deploy, preflight, pulumi_cli
from rollout.answers import CLOUD_TARGETS, DEFAULT_REGIONS, SIZES, TARGETS, Answers, validate
from rollout.errors import PreflightError
from rollout.stack_file import StackFile

Prompt = Callable[[str], str]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m rollout",
        description="Deploy Dify with one command: asks what it needs (or takes it as flags), checks this "
                    "machine, writes the stack's config and runs `pulumi up`.",
    )
    p.add_argument("--stack", help="stack name (default: dev)")
    p.add_argument("--target", choices=TARGETS, help="where Dify runs (default: the stack's, else docker)")
    p.add_argument("--region", help="cloud region, aws or alicloud only (default: the stack's, else "
                                    + ", ".join(f"{t} {r}" for t, r in DEFAULT_REGIONS.items()) + ")")
    p.add_argument("--domain", help="public host name, e.g. dify.example.com (default: the stack's, else none)")
    p.add_argument("--size", choices=SIZES, help="sizing preset (default: the stack's, else dev)")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--preview", dest="action", action="store_const", const="preview",
                        help="show what would change, change nothing")
    action.add_argument("--destroy", dest="action", action="store_const", const="destroy",
                        help="remove the deployment (data volumes and claims are kept unless configured otherwise)")
    p.set_defaults(action="up")
    p.add_argument("-y", "--yes", action="store_true", help="ask nothing: flags, else the defaults")
    p.add_argument("--skip-credentials-check", action="store_true",
                   help="cloud targets: credentials come from somewhere not checked here (an instance role)")
    p.add_argument("--skip-docker-check", action="store_true", help="docker target: do not ping the Docker host")
    return p


def _ask(prompt: Optional[Prompt], question: str, default: str, choices: Sequence[str] = ()) -> str:
    if prompt is None:
        return default
    hint = f" [{'/'.join(choices)}]" if choices else ""
    while True:
        answer = prompt(f"{question}{hint} ({default or 'none'}): ").strip() or default
        if not choices or answer in choices:
            return answer
        print(f"  choose one of: {', '.join(choices)}")


def _stack_region(stack_file: StackFile, target: str) -> Optional[str]:
    config = stack_file.config
    section = config.get(target)
    if isinstance(section, dict) and section.get("region"):
        return section["region"]
    return config.get("region") if config.get("target") == target else None


def resolve(args: argparse.Namespace, prompt: Optional[Prompt]) -> Answers:
    """The answers: flags first, then questions (when `prompt` is given), then the stack file's values,
    then the defaults."""
    stack = args.stack or _ask(prompt, "Stack name", "dev")
    stack_file = StackFile.read(stack)
    known = stack_file.config
    target = args.target or _ask(prompt, "Target", known.get("target") or "docker", TARGETS)
    if args.region and target not in CLOUD_TARGETS:
        raise PreflightError(f"--region applies to the cloud targets ({', '.join(CLOUD_TARGETS)}), not {target}.")
    region = None
    if target in CLOUD_TARGETS:
        region = args.region or _ask(prompt, "Region", _stack_region(stack_file, target) or DEFAULT_REGIONS[target])
    domain = args.domain if args.domain is not None else _ask(prompt, "Domain", known.get("domain") or "")
    size_default = "dev" if target == "docker" else (known.get("size") or "dev")
    size = args.size or (size_default if target == "docker" else _ask(prompt, "Size", size_default, SIZES))
    return Answers(stack=stack, target=target, size=size, domain=domain or None, region=region)


def _checks(answers: Answers, stack_file: StackFile, args: argparse.Namespace) -> Optional[PulumiCommand]:
    """Runs every check, prints each result, and raises one PreflightError listing all that failed.
    The backend is checked through the CLI, so it is reported as not checked when the CLI is missing."""
    failed: list[str] = []

    def step(label: str, check: Callable[[], str]) -> None:
        try:
            print(f"  ok  {label}: {check()}", flush=True)
        except PreflightError as problem:
            print(f"  FAIL {label}", flush=True)
            failed.append(f"{label}: {problem}")

    step("config", lambda: validate(answers, stack_file))
    step("python", preflight.program_environment)
    command: Optional[PulumiCommand] = None

    def cli_check() -> str:
        nonlocal command
        command = pulumi_cli.find()
        return f"CLI {command.version}"

    step("pulumi", cli_check)
    try:
        for check in preflight.target_checks(answers, stack_file, skip_credentials=args.skip_credentials_check,
                                             skip_docker=args.skip_docker_check):
            step(answers.target, check)
    except PreflightError as problem:
        failed.append(f"{answers.target}: {problem}")
    if command is not None:
        found = command
        step("backend", lambda: pulumi_cli.check_backend(deploy.workspace(found), stack_file))
    else:
        failed.append("backend: not checked, it is read through the Pulumi CLI (see `pulumi` above)")
    if failed:
        raise PreflightError(f"{len(failed)} check(s) failed:\n  - " + "\n  - ".join(failed))
    return command


def main(argv: Optional[Sequence[str]] = None, prompt: Optional[Prompt] = input) -> int:
    args = parser().parse_args(argv)
    interactive = not args.yes and sys.stdin.isatty()
    try:
        answers = resolve(args, prompt if interactive else None)
        stack_file = StackFile.read(answers.stack)
        print(f"Checking before `pulumi {args.action}` on stack {answers.stack} (target {answers.target}):")
        command = _checks(answers, stack_file, args)
    except PreflightError as problem:
        print(f"Stopped before changing anything:\n  {problem}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, EOFError):
        print("\nStopped before changing anything.", file=sys.stderr)
        return 130

    try:
        stack = deploy.open_stack(answers, stack_file, command, args.action)
        shown = deploy.run(stack, args.action, on_output=lambda line: print(line, flush=True),
                           on_error=lambda line: print(line, file=sys.stderr, flush=True))
    except CommandError:
        print(f"`pulumi {args.action}` failed: its messages above say why.", file=sys.stderr)
        return 1
    for label, value in shown.items():
        print(f"{label}: {value or 'not known yet (run `pulumi stack output` again in a few minutes)'}")
    return 0
