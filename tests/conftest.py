import gc
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# `ci` (the default) runs a fixed, small set of examples; `deep` explores, for a local look.
settings.register_profile("ci", max_examples=30, derandomize=True, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=400, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.mocks.program import RUN_CACHE_ENV  # noqa: E402

# A program run under mocks allocates some hundred thousand short-lived futures; at the collector's
# default thresholds a third of each run went to walking the long-lived runs the modules keep.
gc.set_threshold(100_000, 50, 100)


def pytest_configure(config):
    """One cache of finished program runs for the whole session, shared by the workers it starts."""
    if not hasattr(config, "workerinput") and RUN_CACHE_ENV not in os.environ:
        config.run_cache = tempfile.mkdtemp(prefix="dify-mock-runs-")
        os.environ[RUN_CACHE_ENV] = config.run_cache


def pytest_unconfigure(config):
    if getattr(config, "run_cache", None):
        shutil.rmtree(config.run_cache, ignore_errors=True)
        os.environ.pop(RUN_CACHE_ENV, None)


@pytest.fixture(autouse=True)
def _own_runs_under_patches(request):
    """A test that patches the program's modules must see its own run, never one from the cache."""
    if "monkeypatch" not in request.fixturenames:
        yield
        return
    with pytest.MonkeyPatch.context() as patches:
        patches.delenv(RUN_CACHE_ENV, raising=False)
        yield

# Real programs some test modules drive as validators or stand-ins.
TOOLS = {
    "test_routing.py": ("nginx", "squid", "openssl"),
    "test_health_checks.py": ("curl", "node"),
    "test_config_properties.py": ("nginx",),
    "test_restore_point_roundtrip.py": ("initdb", "pg_ctl", "pg_dump", "pg_restore", "psql", "runuser"),
    "test_acme_issuance.py": ("nginx", "openssl", "faketime"),
}
INSTALL = "sudo apt-get install -y nginx-light squid curl nodejs openssl postgresql faketime"


def tool_path(tool: str) -> str:
    """Where a tool is: on PATH, in /usr/sbin, or (Debian's server binaries) /usr/lib/postgresql/<major>/bin."""
    found = shutil.which(tool) or next((str(p) for p in [Path("/usr/sbin", tool)] if p.exists()), None)
    if found is None:
        versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"), key=lambda p: int(p.parts[-3]))
        found = str(versions[-1]) if versions else None
    return found or tool


def _found(tool: str) -> bool:
    return tool_path(tool) != tool or shutil.which(tool) is not None


def _missing(item: pytest.Item) -> list[str]:
    return [tool for tool in TOOLS.get(item.path.name, ()) if not _found(tool)]


def pytest_collection_modifyitems(config, items):
    """Without the programs a module drives, its tests skip saying what to install; in CI they fail so."""
    for item in items:
        missing = _missing(item)
        if missing and not os.environ.get("CI"):
            item.add_marker(pytest.mark.skip(reason=f"needs {', '.join(missing)}: {INSTALL}"))


@pytest.fixture(autouse=True)
def _tools_present(request):
    missing = _missing(request.node)
    if missing:
        pytest.fail(f"needs {', '.join(missing)}, not found on this machine: {INSTALL}", pytrace=False)
