"""Checks a run's summary against a preset's targets and writes the verdict: text, JSON and a plot."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Optional

from loadtest import metrics
from loadtest.presets import Targets

MARK = "<secret>"


@dataclass(frozen=True)
class Check:
    name: str
    actual: Optional[float]
    limit: float
    unit: str
    at_least: bool
    passed: bool

    def line(self) -> str:
        actual = "none" if self.actual is None else f"{self.actual:g} {self.unit}"
        sign = ">=" if self.at_least else "<="
        return f"  {'PASS' if self.passed else 'FAIL'}  {self.name:<24} {actual:<14} target {sign} {self.limit:g} {self.unit}"

    def reason(self) -> str:
        if self.actual is None:
            return f"{self.name}: no successful requests"
        sign = "<" if self.at_least else ">"
        return f"{self.name} {self.actual:g} {self.unit} {sign} {self.limit:g} {self.unit}"


def _p95_limits(targets: Targets, scenarios: set[str]) -> dict[str, int]:
    """Each p95 target the scenarios exercise, by group (metrics.GROUPS)."""
    limits = {
        "first_token": targets.p95_first_token_ms,
        "service_api": targets.p95_service_api_ms,
        "console": targets.p95_console_ms,
    }
    return {group: limit for group, limit in limits.items() if metrics.GROUP_SCENARIOS[group] & scenarios}


# gevent's timers may wake a little early
RUN_TIME_SLACK_S = 0.5


def evaluate(summary: dict, targets: Targets, scenarios: Iterable[str], duration_s: float) -> list[Check]:
    """One check per target that the scenarios exercise, and that the load ran its whole time."""
    scenarios = set(scenarios)
    checks = [
        Check("run time", summary["elapsed_s"], duration_s, "s", True,
              summary["elapsed_s"] >= duration_s - RUN_TIME_SLACK_S),
        Check("throughput", summary["rps"], round(targets.min_rps, 2), "req/s", True,
              summary["rps"] >= targets.min_rps),
        Check("error rate", round(summary["error_rate"] * 100, 2), round(targets.max_error_rate * 100, 2), "%",
              False, summary["error_rate"] <= targets.max_error_rate),
    ]
    for group, limit in _p95_limits(targets, scenarios).items():
        measured = summary["groups"][group]
        p95 = measured["p95_ms"] if measured["successes"] else None
        checks.append(Check(metrics.GROUP_TITLES[group], p95, limit, "ms", False, p95 is not None and p95 <= limit))
    exceptions = summary["scenario_exceptions"]
    checks.append(Check("load test exceptions", exceptions, 0, "", False, exceptions == 0))
    return checks


def scrub(value, secrets: list[str]):
    """`value` with every known secret replaced, in every string it holds."""
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):
            value = value.replace(secret, MARK)
        return value
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    return value


def _ms(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.0f}"


def text(run: dict, summary: dict, checks: list[Check]) -> str:
    load = run["load"]
    lines = [
        f"Load test of {run['url']}, preset {run['preset']}: {load['users']} users "
        f"(spawn {load['spawn_rate']:g}/s) for {load['duration_s']:g} s; scenarios: {', '.join(run['scenarios'])}",
        f"{summary['requests']} requests, {summary['failures']} failed, in {summary['elapsed_s']:g} s",
        "",
        *[c.line() for c in checks],
        "",
        f"  {'request':<36} {'type':<5} {'count':>7} {'fail':>6} {'median':>8} {'p95':>8} {'max':>8}",
    ]
    for e in summary["endpoints"]:
        lines.append(f"  {e['name']:<36} {e['type']:<5} {e['requests']:>7} {e['failures']:>6} "
                     f"{_ms(e['median_ms']):>8} {_ms(e['p95_ms']):>8} {_ms(e['max_ms']):>8}")
    if summary["errors"]:
        lines += ["", "  failures:"]
        lines += [f"    {e['occurrences']:>6} x {e['name']}: {e['error']}" for e in summary["errors"][:10]]
    failed = [c for c in checks if not c.passed]
    lines += ["", "Result: " + ("PASS" if not failed else "FAIL (" + "; ".join(c.reason() for c in failed) + ")")]
    return "\n".join(lines)


def document(run: dict, summary: dict, history: list[dict], checks: list[Check]) -> dict:
    return {
        **run,
        "passed": all(c.passed for c in checks),
        "checks": [asdict(c) for c in checks],
        "failed": [c.reason() for c in checks if not c.passed],
        "summary": summary,
        "history": history,
    }


def plot(history: list[dict], targets: Targets, scenarios: Iterable[str], path: Path) -> None:
    """Requests per second and each target's p95 over time, the targets dashed."""
    from matplotlib.figure import Figure

    scenarios = set(scenarios)
    t = [row["t_s"] for row in history]
    figure = Figure(figsize=(10, 7))
    rate, latency = figure.subplots(2, 1, sharex=True)
    rate.plot(t, [row["rps"] for row in history], label="requests/s")
    rate.axhline(targets.min_rps, linestyle="--", color="grey", label=f"target >= {targets.min_rps:g}")
    rate.set_ylabel("requests/s")
    rate.legend(loc="upper left")
    for group, limit in _p95_limits(targets, scenarios).items():
        line, = latency.plot(t, [row["p95_ms"][group] for row in history], marker=".",
                             label=metrics.GROUP_TITLES[group])
        latency.axhline(limit, linestyle="--", color=line.get_color(), alpha=0.6)
    latency.set_ylabel("p95 per second (ms)")
    latency.set_xlabel("seconds since start")
    latency.legend(loc="upper left")
    figure.suptitle("Dify load test (dashed: targets)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def write(out: Path, doc: dict, html: str, targets: Targets) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "png": out / "report.png", "html": out / "locust.html"}
    paths["json"].write_text(json.dumps(doc, indent=2) + "\n")
    plot(doc["history"], targets, doc["scenarios"], paths["png"])
    paths["html"].write_text(html)
    return paths
