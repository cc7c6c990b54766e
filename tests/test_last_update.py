"""Reading the stack's own last outputs: a checkpoint met half-written is read again; other failures stop."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from stacks import last_update


class _Engine:
    def __init__(self, failures: list[str]) -> None:
        self.failures, self.calls = list(failures), 0

    def invoke(self, token, args):
        self.calls += 1
        assert token == last_update.READ_STACK_OUTPUTS and args["name"].endswith("/dev")
        if self.failures:
            raise Exception(f"invoke of {token} failed: {self.failures.pop(0)}")
        return SimpleNamespace(value={"outputs": {"restorePoints": [1]}})


@pytest.fixture
def engine(monkeypatch):
    def make(failures):
        fake = _Engine(failures)
        monkeypatch.setattr(last_update.pulumi.runtime, "invoke", fake.invoke)
        monkeypatch.setattr(last_update.pulumi, "get_organization", lambda: "org")
        monkeypatch.setattr(last_update.pulumi, "get_project", lambda: "dify-deploy")
        monkeypatch.setattr(last_update.pulumi, "get_stack", lambda: "dev")
        monkeypatch.setattr(last_update, "PAUSE_S", 0)
        monkeypatch.setattr(last_update.pulumi.runtime.settings, "get_monitor", lambda: fake)
        monkeypatch.setattr(last_update, "_last_read", None)
        return fake
    return make


def test_a_torn_checkpoint_is_read_again(engine):
    fake = engine(["failed to load checkpoint: EOF"] * 2)
    assert last_update.outputs() == {"restorePoints": [1]}
    assert fake.calls == 3


def test_a_checkpoint_that_stays_unreadable_stops_the_program(engine):
    fake = engine(["failed to load checkpoint: EOF"] * last_update.ATTEMPTS)
    with pytest.raises(Exception, match="failed to load checkpoint"):
        last_update.outputs()
    assert fake.calls == last_update.ATTEMPTS


def test_any_other_failure_stops_at_once(engine):
    fake = engine(["permission denied"])
    with pytest.raises(Exception, match="permission denied"):
        last_update.outputs()
    assert fake.calls == 1


def test_every_reader_in_one_run_shares_one_read_and_a_new_run_reads_again(engine, monkeypatch):
    fake = engine([])
    assert last_update.outputs() == last_update.outputs() == {"restorePoints": [1]}
    assert fake.calls == 1
    monkeypatch.setattr(last_update.pulumi.runtime.settings, "get_monitor", lambda: object())
    last_update.outputs()
    assert fake.calls == 2
