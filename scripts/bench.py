"""Evaluates each stack file under Pulumi's mocks and prints wall time and the number of resources.

    python scripts/bench.py               # every Pulumi.<stack>.yaml, 5 runs each
    python scripts/bench.py k8s -n 20     # one stack, 20 runs

The first run of the process pays for imports (pulumi, the providers' SDKs); it is reported apart.
Variants (`k8s+production`) run a stack file with overrides, e.g. the production preset with
external data services. A stack whose target is not deployable yet is reported as such.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.mocks import Run, run_program  # noqa: E402

_EXTERNAL_DATA = {
    "postgres": {"mode": "external", "host": "db.internal", "password": "bench-only"},
    "redis": {"mode": "external", "host": "cache.internal", "password": "bench-only"},
    "objectStorage": {"mode": "external", "kind": "s3", "bucket": "dify-files", "region": "us-east-1",
                      "useWorkloadIdentity": True},
}
VARIANTS = {
    "k8s+production": ("k8s", {"size": "production", "domain": "dify.example.com", **_EXTERNAL_DATA,
                               "kubernetes": {"namespace": "dify", "isolation": {"dataCidrs": {
                                   "postgres": ["10.0.12.0/24"], "redis": ["10.0.13.0/24"]}}}},
                       ("postgres", "redis")),
}


def stacks() -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def once(stack: str) -> tuple[float, Run]:
    base, overrides, secret_keys = VARIANTS.get(stack, (stack, {}, ()))
    run = Run()
    start = time.perf_counter()
    run_program(base, overrides=overrides, secret_keys=secret_keys, run=run)
    return time.perf_counter() - start, run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", help="stack names (default: every stack file and variant)")
    parser.add_argument("-n", "--runs", type=int, default=5)
    args = parser.parse_args()
    names = args.stacks or stacks() + sorted(VARIANTS)

    warm_start = time.perf_counter()
    try:
        once(names[0])
    except Exception:
        pass
    print(f"first run (imports included): {time.perf_counter() - warm_start:.2f} s\n")

    print(f"{'stack':<18} {'resources':>9} {'k8s objects':>11} {'median':>9} {'min':>9} {'max':>9}")
    for name in names:
        try:
            times, run = [], None
            for _ in range(args.runs):
                elapsed, run = once(name)
                times.append(elapsed)
        except Exception as exc:  # a target this release validates but does not deploy
            first = str(exc).strip().splitlines()[0][:70]
            print(f"{name:<18} {'-':>9} {'-':>11}  not deployed: {first}")
            continue
        assert run is not None
        k8s = sum(1 for r in run.resources if r.custom and r.typ.startswith("kubernetes:"))
        print(f"{name:<18} {len(run.resources):>9} {k8s:>11} {statistics.median(times) * 1000:>7.0f}ms "
              f"{min(times) * 1000:>7.0f}ms {max(times) * 1000:>7.0f}ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
