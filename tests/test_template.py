"""The repository as a `pulumi new` template: the questions it asks, and the stack config their
answers make, loaded by the program's own config loader."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from pulumi.automation import ProjectSettings
from pulumi.runtime import config as runtime_config

from stacks.loader import load
from tools.mocks import PROJECT, ROOT, run_program, stack_config

PROJECT_FILE = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
TEMPLATE = PROJECT_FILE["template"]
# The fields Pulumi's project schema (sdk/go/common/workspace/project.json) allows in `template`
# and in each of its config values.
TEMPLATE_FIELDS = {"description", "quickstart", "important", "config"}
CONFIG_VALUE_FIELDS = {"description", "default", "secret"}


def saved_by_pulumi_new(answers: dict[str, str]) -> dict[str, str]:
    """What `pulumi new` writes for the answers: keys without a namespace get the project's, and an
    empty answer is not saved."""
    return {(k if ":" in k else f"{PROJECT}:{k}"): v for k, v in answers.items() if v != ""}


def load_config(config: dict[str, Any]):
    wire = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    runtime_config.set_all_config(wire, [])
    try:
        return load(PROJECT)
    finally:
        runtime_config.set_all_config({}, [])


def test_the_template_asks_four_questions_with_working_defaults():
    assert set(TEMPLATE) <= TEMPLATE_FIELDS
    questions = TEMPLATE["config"]
    assert list(questions) == ["target", "region", "domain", "size"]
    for key, question in questions.items():
        assert set(question) <= CONFIG_VALUE_FIELDS and question["description"], key
        assert not question.get("secret"), key
    assert {k: q["default"] for k, q in questions.items()} == {"target": "docker", "region": "", "domain": "",
                                                               "size": "dev"}


def test_the_automation_api_reads_the_project_file():
    settings = ProjectSettings.from_dict(PROJECT_FILE)
    assert settings.name == PROJECT and settings.runtime.name == "python"
    assert set(settings.template.config) == set(TEMPLATE["config"])


def test_the_default_answers_are_a_working_docker_stack():
    defaults = {k: q["default"] for k, q in TEMPLATE["config"].items()}
    saved = saved_by_pulumi_new(defaults)
    assert saved == {f"{PROJECT}:target": "docker", f"{PROJECT}:size": "dev"}
    config = load_config(saved)
    assert (config.target, config.size, config.domain, config.aws) == ("docker", "dev", None, None)
    run = run_program("dev", overrides={k.split(":", 1)[1]: v for k, v in saved.items()})
    assert run.outputs["installUrl"] == "http://localhost/install"


@pytest.mark.parametrize("answers, region_of", [
    ({"target": "kubernetes", "region": "", "domain": "dify.example.com", "size": "small"}, None),
    ({"target": "aws", "region": "eu-west-1", "domain": "dify.example.com", "size": "dev"}, "aws"),
    ({"target": "alicloud", "region": "cn-shanghai", "domain": "", "size": "small"}, "alicloud"),
    # A region answered for a target without one is accepted and unused.
    ({"target": "docker", "region": "us-east-1", "domain": "", "size": "dev"}, None),
])
def test_answers_for_every_target_load(answers, region_of):
    config = load_config(saved_by_pulumi_new(answers))
    assert (config.target, config.size) == (answers["target"], answers["size"])
    assert config.domain == (answers["domain"] or None)
    if region_of:
        assert getattr(config, region_of).region == answers["region"]
    else:
        assert config.aws is None and config.alicloud is None


def test_a_cloud_target_without_a_region_asks_for_one():
    with pytest.raises(Exception) as raised:
        load_config(saved_by_pulumi_new({"target": "aws", "region": "", "domain": "", "size": "dev"}))
    assert "set `region`" in str(raised.value)


def test_answers_merged_into_the_templates_dev_stack_file_load():
    """`pulumi new` creates the stack `dev` by default, whose file the template already holds."""
    existing, _ = stack_config("dev")
    answers = {"target": "kubernetes", "region": "", "domain": "dify.example.com", "size": "dev"}
    config = load_config({**existing, **saved_by_pulumi_new(answers)})
    assert (config.target, config.domain) == ("kubernetes", "dify.example.com")


def test_a_region_that_contradicts_the_section_is_refused():
    existing, _ = stack_config("alicloud")
    with pytest.raises(Exception) as raised:
        load_config({**existing, **saved_by_pulumi_new({"region": "cn-beijing"})})
    assert "`region` and `alicloud.region`" in str(raised.value)
