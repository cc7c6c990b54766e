"""The rollout's command line: flags and questions become answers, and answers become exactly the
config keys the program's own loader accepts."""

from __future__ import annotations

import pytest

from rollout import cli
from rollout.answers import Answers, config_keys, merged_config, validate
from rollout.errors import PreflightError
from rollout.stack_file import StackFile
from stacks.config import StackConfig

FRESH = StackFile(config={}, has_secrets=False, secrets_provider=None)
NEW_STACK = "rollout-test-no-such-file"


def answers_from(argv: list[str], replies: list[str] | None = None) -> Answers:
    args = cli.parser().parse_args(argv)
    if replies is None:
        return cli.resolve(args, None)
    queue = list(replies)
    return cli.resolve(args, lambda question: queue.pop(0))


def test_no_flags_no_questions_is_the_dev_stack_on_docker():
    assert answers_from(["--yes"]) == Answers(stack="dev", target="docker", size="dev", domain=None, region=None)


@pytest.mark.parametrize("argv, expected", [
    (["--stack", NEW_STACK, "--target", "kubernetes", "--size", "small", "--domain", "dify.example.com"],
     Answers(stack=NEW_STACK, target="kubernetes", size="small", domain="dify.example.com")),
    (["--stack", NEW_STACK, "--target", "aws", "--region", "eu-central-1"],
     Answers(stack=NEW_STACK, target="aws", size="dev", region="eu-central-1")),
    (["--stack", NEW_STACK, "--target", "alicloud"],
     Answers(stack=NEW_STACK, target="alicloud", size="dev", region="cn-hangzhou")),
])
def test_flags(argv, expected):
    assert answers_from(argv) == expected


def test_defaults_come_from_an_existing_stack_file():
    answers = answers_from(["--stack", "alicloud"])
    assert (answers.target, answers.size, answers.region, answers.domain) == \
           ("alicloud", "production", "cn-hangzhou", "dify.example.com")


def test_questions_when_interactive():
    replies = [NEW_STACK, "gcp", "aws", "ap-northeast-1", "dify.example.org", "huge", "small"]
    answers = answers_from([], replies)
    assert answers == Answers(stack=NEW_STACK, target="aws", size="small", domain="dify.example.org",
                              region="ap-northeast-1")


def test_enter_takes_the_defaults_and_docker_is_never_asked_for_a_size_or_region():
    asked: list[str] = []

    def prompt(question: str) -> str:
        asked.append(question.split(" (")[0].split(" [")[0])
        return ""

    answers = cli.resolve(cli.parser().parse_args(["--stack", NEW_STACK]), prompt)
    assert answers == Answers(stack=NEW_STACK, target="docker", size="dev")
    assert asked == ["Target", "Domain"]


def test_region_is_refused_for_targets_without_one():
    with pytest.raises(PreflightError, match="--region applies to the cloud targets"):
        answers_from(["--target", "docker", "--region", "us-east-1"])


def test_preview_and_destroy_exclude_each_other(capsys):
    assert cli.parser().parse_args(["--preview"]).action == "preview"
    assert cli.parser().parse_args([]).action == "up"
    with pytest.raises(SystemExit) as raised:
        cli.parser().parse_args(["--preview", "--destroy"])
    assert raised.value.code == 2


@pytest.mark.parametrize("answers, keys", [
    (Answers(target="docker"), {"target": "docker", "size": "dev"}),
    (Answers(target="kubernetes", size="small", domain="dify.example.com"),
     {"target": "kubernetes", "size": "small", "domain": "dify.example.com"}),
    (Answers(target="aws", region="eu-west-1"), {"target": "aws", "size": "dev", "aws.region": "eu-west-1"}),
    (Answers(target="alicloud"), {"target": "alicloud", "size": "dev", "alicloud.region": "cn-hangzhou"}),
])
def test_answers_become_config_keys_the_loader_accepts(answers, keys):
    assert config_keys(answers) == keys
    assert validate(answers, FRESH) == "accepted by the program's config model"
    config = StackConfig.model_validate(merged_config(answers, FRESH))
    assert config.target == answers.target and config.size == answers.size
    if answers.target in ("aws", "alicloud"):
        assert getattr(config, answers.target).region == keys[f"{answers.target}.region"]


@pytest.mark.parametrize("stack, target", [("dev", "docker"), ("k8s", "kubernetes"), ("alicloud", "alicloud")])
def test_answers_written_into_the_existing_stack_files_load(stack, target):
    stack_file = StackFile.read(stack)
    answers = answers_from(["--stack", stack, "--target", target, "--domain", "dify.example.net"])
    assert validate(answers, stack_file) == "accepted by the program's config model"
    assert merged_config(answers, stack_file)["domain"] == "dify.example.net"


def test_an_answered_region_replaces_the_flat_key_pulumi_new_wrote():
    written_by_pulumi_new = StackFile(config={"target": "aws", "region": "us-east-1"}, has_secrets=False,
                                      secrets_provider=None)
    answers = Answers(target="aws", region="eu-west-1")
    merged = merged_config(answers, written_by_pulumi_new)
    assert "region" not in merged and merged["aws"] == {"region": "eu-west-1"}
    validate(answers, written_by_pulumi_new)


@pytest.mark.parametrize("argv, named", [
    (["--yes", "--stack", NEW_STACK, "--target", "docker", "--size", "small"], "size small"),
    (["--yes", "--stack", NEW_STACK, "--target", "kubernetes", "--domain", "https://dify.example.com"], "domain"),
    (["--yes", "--stack", NEW_STACK, "--target", "aws", "--region", "mars-north-1"], "aws.region"),
])
def test_wrong_answers_stop_before_anything_runs(capsys, argv, named):
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "Stopped before changing anything" in err and named in err


def test_a_stack_file_with_encrypted_values_is_left_to_pulumi_up():
    encrypted = StackFile(config={"postgres": {"password": {"secure": "v1:abc"}}}, has_secrets=True,
                          secrets_provider=None)
    assert "left to `pulumi up`" in validate(Answers(), encrypted)


def test_a_flat_region_is_proposed_only_for_its_own_target(monkeypatch):
    written_by_pulumi_new = StackFile(config={"target": "aws", "region": "eu-west-1"}, has_secrets=False,
                                      secrets_provider=None)
    monkeypatch.setattr(cli.StackFile, "read", classmethod(lambda cls, stack: written_by_pulumi_new))
    assert answers_from(["--stack", "mine"]).region == "eu-west-1"
    assert answers_from(["--stack", "mine", "--target", "alicloud"]).region == "cn-hangzhou"
