"""Restore points: a copy of the databases taken before each migration (the first deploy and every change
of Dify's release), the ones a stack keeps, and the names they go by.

A stack keeps its restore points in its own outputs (`restorePoints`: ordinal, release, name). Each run
reads the previous run's list, adds one when the release differs from the newest point's, and keeps
the last `keep`: the program declares exactly those, so a point that falls off the list is deleted by
the engine like any resource the program no longer declares. The ordinal makes each upgrade its own
point: going 1.13 -> 1.16 -> 1.13 -> 1.16 takes four, never reuses the first 1.16 one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

OUTPUT = "restorePoints"
# RDS: 1-255 letters, digits and hyphens, a letter first, no two hyphens together, none at the end.
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class RestorePoint:
    ordinal: int
    release: str
    prefix: str

    @property
    def name(self) -> str:
        """A cloud identifier naming the stack, the release and the upgrade: `dify-prod-before-1-16-1-2`."""
        slug = _NOT_ALLOWED.sub("-", f"{self.prefix}-before-{self.release}-{self.ordinal}".lower()).strip("-")
        if not slug[:1].isalpha():
            slug = f"dify-{slug}"
        return slug[:255].rstrip("-")

    def output(self) -> dict[str, Any]:
        return {"ordinal": self.ordinal, "release": self.release, "name": self.name}


def kept_points(previous: Iterable[Mapping[str, Any]], release: str, take: bool, keep: int,
                prefix: str) -> list[RestorePoint]:
    """The restore points this run declares: the previous run's, plus one for `release` when `take` and
    the newest point is of another release (or there is none: the first deploy), the newest `keep`."""
    points = [RestorePoint(int(p["ordinal"]), str(p["release"]), prefix) for p in previous]
    points.sort(key=lambda p: p.ordinal)
    if take and (not points or points[-1].release != release):
        points.append(RestorePoint(points[-1].ordinal + 1 if points else 1, release, prefix))
    return points[-keep:]
