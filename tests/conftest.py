import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Real programs some test modules drive as validators or stand-ins.
TOOLS = {
    "test_routing.py": ("nginx", "squid", "openssl"),
    "test_health_checks.py": ("curl", "node"),
    "test_config_properties.py": ("nginx",),
}
INSTALL = "sudo apt-get install -y nginx-light squid curl nodejs openssl"


def _found(tool: str) -> bool:
    return shutil.which(tool) is not None or Path("/usr/sbin", tool).exists()


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
