"""The ACME test server and client the issuance test runs: pebble (scripts/tools/pebble.sh builds it from the Go
module proxy) and certbot at the release the ACME container runs (scripts/tools/certbot.sh installs it from
PyPI), both cached outside the repository."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

import pytest

from components import images

PEBBLE_VERSION = "v2.10.3"
CERTBOT_VERSION = images.CERTBOT.rsplit(":v", 1)[1]
CACHE = Path(os.environ.get("DIFY_TOOLS_CACHE", Path.home() / ".cache" / "dify-tools"))


def _found(env: str, cached: Path, script: str) -> str:
    """CI (.ci/run) installs the tools first and sets DIFY_REQUIRE_ACME_TOOLS, so there a missing one fails the
    test; elsewhere the test is skipped with the command that installs it."""
    found: Optional[str] = os.environ.get(env) or (str(cached) if cached.exists() else None)
    if found:
        return found
    message = f"{cached.name} is missing: run scripts/tools/{script} (it caches the tool under {CACHE})"
    if os.environ.get("DIFY_REQUIRE_ACME_TOOLS"):
        pytest.fail(message)
    pytest.skip(message)


def pebble() -> str:
    return _found("PEBBLE", CACHE / f"pebble-{PEBBLE_VERSION}" / "pebble", "pebble.sh")


def certbot() -> str:
    return _found("CERTBOT", CACHE / f"certbot-{CERTBOT_VERSION}" / "bin" / "certbot", "certbot.sh")


def nginx() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"
