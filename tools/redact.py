"""Removes secrets from declared values before they are written anywhere."""

from __future__ import annotations

import re
from typing import Any, Iterable

from tools.mocks.wire import is_secret

MARK = "<secret>"
# Known secrets at least this long are also removed where they appear inside a longer plain string;
# shorter ones only where they are the whole value (a short secret would match unrelated text).
MIN_INLINE = 8
# `NAME=value` in a secret list (a container's environment): the name is kept, the value is not.
_ENV_ENTRY = re.compile(r"^([A-Z_][A-Z0-9_]*)=(.*)$", re.DOTALL)


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        self.whole = {s for s in secrets if s}
        self.inline = sorted((s for s in self.whole if len(s) >= MIN_INLINE), key=len, reverse=True)

    def __call__(self, value: Any) -> Any:
        """`value` with every secret replaced by MARK: values wrapped as secrets (keeping map keys
        and list shapes) and any known secret value that appears in plain text."""
        if is_secret(value):
            return self.hide(value["value"])
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, str):
            return self._scrub(value)
        return value

    def hide(self, value: Any, in_list: bool = False) -> Any:
        """`value` is secret as a whole: only its shape survives."""
        if is_secret(value):
            return self.hide(value["value"], in_list)
        if isinstance(value, dict):
            return {k: self.hide(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.hide(v, in_list=True) for v in value]
        if in_list and isinstance(value, str):
            entry = _ENV_ENTRY.match(value)
            if entry and self._scrub(entry.group(1)) == entry.group(1):
                return f"{entry.group(1)}={MARK}"
        return MARK

    def _scrub(self, text: str) -> str:
        if text in self.whole:
            return MARK
        for known in self.inline:
            text = text.replace(known, MARK)
        return text
