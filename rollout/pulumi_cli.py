"""The Pulumi CLI the Automation API drives, and the backend it is logged in to."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Mapping, Optional

from pulumi.automation import CommandError, PulumiCommand, Workspace
from pulumi.automation.errors import InvalidVersionError

from rollout.errors import PreflightError
from rollout.stack_file import StackFile

INSTALL = "Install it from https://www.pulumi.com/docs/iac/download-install/ (e.g. `curl -fsSL https://get.pulumi.com | sh`)."


def find(home: Optional[Path] = None) -> PulumiCommand:
    """The `pulumi` on PATH, else the installer's ~/.pulumi/bin/pulumi, checked against the version the
    Automation API needs."""
    home = home or Path.home()
    installer_root = home / ".pulumi"
    roots = [None] + ([str(installer_root)] if (installer_root / "bin" / "pulumi").exists() else [])
    for root in roots:
        try:
            return PulumiCommand(root=root)
        except (FileNotFoundError, PermissionError):
            continue
        except InvalidVersionError as error:
            raise PreflightError(f"The Pulumi CLI is too old or too new for this program's Automation API: "
                                 f"{error} {INSTALL}") from None
        except subprocess.CalledProcessError:
            raise PreflightError(f"`pulumi version` failed: the Pulumi CLI is broken. {INSTALL}") from None
    raise PreflightError(f"The Pulumi CLI (`pulumi`) is not installed or not on PATH. {INSTALL}")


def passphrase_problem(backend_url: str, stack_file: StackFile, env: Mapping[str, str] = os.environ) -> Optional[str]:
    """Self-managed backends (file://, s3://, ...) encrypt secrets with a passphrase unless the stack
    names another secrets provider; without it in the environment the Automation API cannot run."""
    managed = backend_url.startswith(("https://", "http://"))
    other_provider = bool(stack_file.secrets_provider) and not stack_file.secrets_provider.startswith("passphrase")
    if managed or other_provider or "PULUMI_CONFIG_PASSPHRASE" in env or "PULUMI_CONFIG_PASSPHRASE_FILE" in env:
        return None
    return (f"The backend {backend_url} keeps this stack's secrets encrypted with a passphrase: set "
            "PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to it; for a new stack, to the one "
            "you choose now, and keep it safe.")


def check_backend(workspace: Workspace, stack_file: StackFile) -> str:
    try:
        url = workspace.who_am_i().url or ""
    except CommandError:
        raise PreflightError(
            "The Pulumi CLI is not logged in to a backend: run `pulumi login` (Pulumi Cloud; or set "
            "PULUMI_ACCESS_TOKEN) or `pulumi login --local` (state files in ~/.pulumi)."
        ) from None
    problem = passphrase_problem(url, stack_file)
    if problem:
        raise PreflightError(problem)
    return url
