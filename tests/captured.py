"""One run of each stack file, shared by the test modules that only read it."""

from __future__ import annotations

import functools

from tools.mocks import Run, run_program


@functools.lru_cache(maxsize=None)
def captured(stack: str) -> Run:
    return run_program(stack)
