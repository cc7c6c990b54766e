"""`python -m rollout` runs every preflight check and reports all that failed at once."""

from __future__ import annotations


from rollout import cli, preflight, pulumi_cli
from rollout.errors import PreflightError

NEW_STACK = "rollout-test-no-such-file"


def fail(message):
    def check(*_args, **_kwargs):
        raise PreflightError(message)
    return check


def test_every_failed_check_is_reported_not_only_the_first(monkeypatch, capsys):
    monkeypatch.setattr(preflight, "program_environment", fail("No virtual environment (python check)"))
    monkeypatch.setattr(pulumi_cli, "find", fail("The Pulumi CLI (`pulumi`) is not installed"))
    monkeypatch.setattr(preflight, "target_checks",
                        lambda *a, **k: [fail("No AWS credentials found"), fail("No aws CLI on PATH")])
    argv = ["--yes", "--stack", NEW_STACK, "--target", "aws", "--region", "mars-north-1"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    for expected in ("aws.region", "No virtual environment", "not installed", "No AWS credentials",
                     "No aws CLI on PATH", "backend: not checked"):
        assert expected in err, err
    assert "6 check(s) failed" in err


def test_a_target_check_that_fails_while_being_set_up_is_reported_with_the_others(monkeypatch, capsys):
    monkeypatch.setattr(preflight, "program_environment", fail("No virtual environment"))
    monkeypatch.setattr(preflight, "target_checks", fail("DOCKER_HOST is not a Docker host URL"))
    monkeypatch.setattr(pulumi_cli, "find", fail("The Pulumi CLI (`pulumi`) is not installed"))
    assert cli.main(["--yes", "--stack", NEW_STACK, "--target", "docker"]) == 1
    err = capsys.readouterr().err
    assert "No virtual environment" in err and "docker: DOCKER_HOST" in err and "not installed" in err


def test_passing_checks_are_printed_and_the_rollout_goes_on(monkeypatch, capsys):
    class Command:
        version = "3.272.0"

    monkeypatch.setattr(preflight, "program_environment", lambda: "program environment venv")
    monkeypatch.setattr(pulumi_cli, "find", lambda: Command())
    monkeypatch.setattr(preflight, "target_checks", lambda *a, **k: [lambda: "docker 1.47"])
    monkeypatch.setattr(cli.deploy, "workspace", lambda command: None)
    monkeypatch.setattr(pulumi_cli, "check_backend", lambda workspace, stack_file: "file:///state")
    monkeypatch.setattr(cli.deploy, "open_stack", lambda *a: "stack")
    monkeypatch.setattr(cli.deploy, "run", lambda stack, action, on_output, on_error: {"url": "http://localhost"})
    assert cli.main(["--yes", "--stack", NEW_STACK, "--target", "docker"]) == 0
    out = capsys.readouterr().out
    assert "ok  pulumi: CLI 3.272.0" in out and "ok  backend: file:///state" in out and "ok  docker: docker 1.47" in out
