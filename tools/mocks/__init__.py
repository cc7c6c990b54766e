"""The program under Pulumi's mocks, without credentials or the Pulumi CLI: what the tests and the
offline render run."""

from tools.mocks.kubernetes import api_version_kind, manifest, manifests
from tools.mocks.program import (
    LB_HOSTNAME, PROJECT, ROOT, Declared, Run, autoname, generated_password, generated_passwords, run_program,
    stack_config,
)
from tools.mocks.wire import SECRET_SIG, SECRET_VALUE_SIG, integral, is_secret, reveal

__all__ = [
    "LB_HOSTNAME", "PROJECT", "ROOT", "SECRET_SIG", "SECRET_VALUE_SIG", "Declared", "Run", "api_version_kind",
    "autoname", "generated_password", "generated_passwords", "integral", "is_secret", "manifest", "manifests",
    "reveal", "run_program", "stack_config",
]
