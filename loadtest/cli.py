"""`python -m loadtest <url>`: the command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import re
import sys
from pathlib import Path
from typing import Optional, Sequence
from urllib.parse import urlsplit

from loadtest import credentials as creds
from loadtest import report
from loadtest.presets import PRESETS
from loadtest.report import scrub

DEFAULT_QUERY = "In one sentence, what is a load test?"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smh]?)$")


class UsageError(ValueError):
    pass


def duration(value: str) -> float:
    match = _DURATION.match(value.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration: write e.g. 90, 90s, 10m or 1h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m loadtest",
        description="Load-test a Dify deployment with a preset's load and check the preset's targets. "
                    "Credentials come from the environment: DIFY_APP_KEY (a chat app's API key), DIFY_DATASET_KEY "
                    "and DIFY_DATASET_ID (knowledge retrieval), DIFY_CONSOLE_EMAIL and DIFY_CONSOLE_PASSWORD (the "
                    "console; or DIFY_CONSOLE_ACCESS_TOKEN and DIFY_CONSOLE_CSRF_TOKEN of a signed-in session).",
    )
    p.add_argument("url", help="the deployment's base URL, e.g. https://dify.example.com")
    p.add_argument("--preset", choices=list(PRESETS), default="dev", help="load and targets (default: dev)")
    p.add_argument("--out", type=Path, default=Path("loadtest-report"),
                   help="directory for report.json, report.png and locust.html (default: loadtest-report)")
    p.add_argument("--users", type=int, help="simulated users instead of the preset's (the throughput target scales)")
    p.add_argument("--spawn-rate", type=float, help="users started per second instead of the preset's")
    p.add_argument("--duration", type=duration, help="run time instead of the preset's, e.g. 30m")
    p.add_argument("--app-key", help=f"a chat app's API key; prefer {creds.APP_KEY_ENV} (a command line is visible in ps)")
    p.add_argument("--dataset-key", help=f"a knowledge API key; prefer {creds.DATASET_KEY_ENV}")
    p.add_argument("--dataset-id", help=f"the knowledge base to retrieve from (or {creds.DATASET_ID_ENV})")
    p.add_argument("--email", help=f"the console account's email (or {creds.CONSOLE_EMAIL_ENV}); the password "
                                   f"only from {creds.CONSOLE_PASSWORD_ENV}")
    p.add_argument("--query", default=DEFAULT_QUERY, help="the chat message and retrieval query")
    p.add_argument("--inputs", default="{}", help="the chat app's input variables as JSON (default: {})")
    return p


def base_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"url: {url!r} is not an http(s) URL; give the deployment's base URL, e.g. https://dify.example.com")
    if parts.username or parts.password:
        raise UsageError("url: remove the user and password from the URL (the report prints the URL); the load "
                         "test authenticates with the DIFY_* variables")
    path = parts.path.rstrip("/")
    if path.endswith("/v1") or path.endswith("/console/api"):
        raise UsageError(f"url: give the deployment's base URL without {path!r}; the load test adds the API paths")
    return f"{parts.scheme}://{parts.netloc}{path}"


def _inputs(value: str) -> dict:
    try:
        inputs = json.loads(value)
    except ValueError as error:
        raise UsageError(f"--inputs: not JSON ({error})") from None
    if not isinstance(inputs, dict):
        raise UsageError("--inputs: give a JSON object, e.g. '{\"topic\": \"weather\"}'")
    return inputs


class _ScrubbingFormatter(logging.Formatter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record), self.secrets)


def _scrub_logs(secrets: list[str]) -> None:
    """Locust logs a task's exceptions with their tracebacks: keep secrets out of them too."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_ScrubbingFormatter(secrets))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        url = base_url(args.url)
        inputs = _inputs(args.inputs)
        credentials = creds.resolve(app_key=args.app_key, dataset_key=args.dataset_key,
                                    dataset_id=args.dataset_id, email=args.email)
        for flag, env in (("--app-key", creds.APP_KEY_ENV), ("--dataset-key", creds.DATASET_KEY_ENV)):
            if getattr(args, flag[2:].replace("-", "_")):
                print(f"warning: {flag} is visible to every user of this machine (ps, shell history); "
                      f"set {env} instead", file=sys.stderr)
        for name, value in (("--users", args.users), ("--spawn-rate", args.spawn_rate), ("--duration", args.duration)):
            if value is not None and value <= 0:
                raise UsageError(f"{name} must be more than 0")
    except (UsageError, creds.CredentialsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    # Imported only now: Locust patches the standard library with gevent as it is imported.
    from loadtest import run, scenario

    preset = PRESETS[args.preset]
    load = run.Load(users=args.users or preset.users, spawn_rate=args.spawn_rate or preset.spawn_rate,
                    duration_s=args.duration or preset.duration_s)
    targets = dataclasses.replace(preset.targets, min_rps=preset.targets.min_rps * load.users / preset.users)
    secrets = credentials.secrets()
    _scrub_logs(secrets)
    summary, history, html = run.run(url, scenario.user_classes(credentials, args.query, inputs), load)
    summary = scrub(summary, secrets)
    meta = {"url": url, "preset": preset.name, "scenarios": credentials.scenarios(),
            "load": dataclasses.asdict(load), "targets": dataclasses.asdict(targets)}
    checks = report.evaluate(summary, targets, credentials.scenarios(), load.duration_s)
    doc = report.document(meta, summary, history, checks)
    paths = report.write(args.out, doc, scrub(html, secrets), targets)
    print(scrub(report.text(meta, summary, checks), secrets))
    print("\nReport: " + ", ".join(str(p) for p in paths.values()))
    return 0 if doc["passed"] else 1
