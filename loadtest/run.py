"""Runs the scenario headless with Locust as a library and returns what it measured as plain data."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Optional

import gevent
from locust.env import Environment
from locust.html import get_html_report
from locust.stats import RequestStats, StatsEntry, calculate_response_time_percentile, stats_history

from loadtest import metrics

SAMPLE_EVERY_S = 1.0


@dataclass(frozen=True)
class Load:
    users: int
    spawn_rate: float
    duration_s: float


def _p95(histogram: Counter, count: int) -> Optional[int]:
    return calculate_response_time_percentile(histogram, count, 0.95) if count else None


def _entries(stats: RequestStats, names: Iterable[str]) -> list[StatsEntry]:
    wanted = set(names)
    return [e for e in stats.entries.values() if e.name in wanted]


def _http(stats: RequestStats) -> list[StatsEntry]:
    return [e for e in stats.entries.values() if e.method != metrics.TIMING]


def _merged(entries: list[StatsEntry]) -> tuple[Counter, int, int]:
    histogram: Counter = Counter()
    for entry in entries:
        histogram.update(entry.response_times)
    return histogram, sum(e.num_requests for e in entries), sum(e.num_failures for e in entries)


class History:
    """Per-second samples of the request rate and of each target's p95 over the last second."""

    def __init__(self, stats: RequestStats) -> None:
        self.stats = stats
        self.started = time.monotonic()
        self.rows: list[dict] = []
        self._last_time = self.started
        self._last: dict[str, tuple[Counter, int]] = {}

    def sample(self) -> None:
        now = time.monotonic()
        if now - self._last_time < SAMPLE_EVERY_S / 2:
            return
        row: dict = {"t_s": round(now - self.started, 2), "p95_ms": {}}
        histogram, count, _ = _merged(_http(self.stats))
        row["rps"] = round((count - self._last.get("http", (None, 0))[1]) / max(now - self._last_time, 1e-6), 2)
        self._last["http"] = (histogram, count)
        for group, names in metrics.GROUPS.items():
            histogram, count, _ = _merged(_entries(self.stats, names))
            before, before_count = self._last.get(group, (Counter(), 0))
            row["p95_ms"][group] = _p95(histogram - before, count - before_count)
            self._last[group] = (histogram, count)
        self._last_time = now
        self.rows.append(row)

    def sample_forever(self) -> None:
        while True:
            gevent.sleep(SAMPLE_EVERY_S)
            self.sample()


def _endpoint(entry: StatsEntry, elapsed: float) -> dict:
    return {
        "name": entry.name,
        "type": entry.method,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "median_ms": entry.get_response_time_percentile(0.5) if entry.num_requests else None,
        "p95_ms": entry.get_response_time_percentile(0.95) if entry.num_requests else None,
        "max_ms": round(entry.max_response_time) if entry.num_requests else None,
        "rps": round(entry.num_requests / elapsed, 2),
    }


def summarize(stats: RequestStats, elapsed: float, exceptions: int) -> dict:
    """What the run measured: totals over the HTTP requests, each target group's p95, each endpoint."""
    _, requests, failures = _merged(_http(stats))
    groups = {}
    for group, names in metrics.GROUPS.items():
        histogram, count, failed = _merged(_entries(stats, names))
        groups[group] = {"requests": count, "successes": count - failed, "p95_ms": _p95(histogram, count)}
    return {
        "elapsed_s": round(elapsed, 1),
        "requests": requests,
        "failures": failures,
        "rps": round(requests / elapsed, 2) if elapsed else 0.0,
        "error_rate": round(failures / requests, 4) if requests else 0.0,
        "groups": groups,
        "endpoints": [_endpoint(e, elapsed) for e in sorted(stats.entries.values(), key=lambda e: (e.method, e.name))],
        "errors": [
            {"name": e.name, "type": e.method, "error": str(e.error), "occurrences": e.occurrences}
            for e in sorted(stats.errors.values(), key=lambda e: -e.occurrences)
        ],
        "scenario_exceptions": exceptions,
    }


def run(host: str, user_classes: list, load: Load) -> tuple[dict, list[dict], str]:
    """Runs the load; returns the summary, the per-second history and Locust's HTML report."""
    env = Environment(user_classes=user_classes, host=host)
    runner = env.create_local_runner()
    history = History(env.stats)
    sampler = gevent.spawn(history.sample_forever)
    html_history = gevent.spawn(stats_history, runner)
    started = time.monotonic()
    runner.start(load.users, spawn_rate=load.spawn_rate)
    try:
        gevent.sleep(load.duration_s)
    except KeyboardInterrupt:
        pass  # stopped early: the report is written all the same, and the run-time check fails
    elapsed = time.monotonic() - started
    runner.quit()
    history.sample()
    sampler.kill()
    html_history.kill()
    html = get_html_report(env, show_download_link=False)
    return summarize(env.stats, elapsed, len(runner.exceptions)), history.rows, html
