"""Where a template and its code come from. Without -t the template is found as `sam local` finds
it: sam build's output first, then template.yaml, template.yml, template.json; the file loaded is
said once. Inline code (InlineCode, Code.ZipFile) runs from a file named index, as on AWS."""
from __future__ import annotations

import json
import logging
import os

import pytest

from gateway.config import Config
from gateway.errors import TemplateError
from gateway.sam.template import load_configured_template, load_template
from gateway.sam.template_io import discover_template

YAML = """\
Resources:
  {name}:
    Type: AWS::Serverless::Function
    Properties: {{Handler: app.handler, Runtime: python3.11, CodeUri: .}}
"""


def _json(name: str) -> str:
    return json.dumps({"Resources": {name: {"Type": "AWS::Serverless::Function",
                                            "Properties": {"Handler": "app.handler", "Runtime": "python3.11",
                                                           "CodeUri": "."}}}})


@pytest.mark.parametrize("present, chosen", [
    (["template.yaml", "template.yml", "template.json", ".aws-sam/build/template.yaml"], ".aws-sam/build/template.yaml"),
    (["template.yaml", "template.yml", "template.json"], "template.yaml"),
    (["template.yml", "template.json"], "template.yml"),
    (["template.json"], "template.json"),
])
def test_the_first_template_sam_local_would_load(tmp_path, present, chosen):
    for name in present:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_json("Fn") if name.endswith(".json") else YAML.format(name="Fn"))
    assert discover_template(str(tmp_path)) == str(tmp_path / chosen)


def test_no_template_names_what_was_looked_for(tmp_path):
    (tmp_path / "template.txt").write_text("not a template")
    with pytest.raises(TemplateError) as info:
        discover_template(str(tmp_path))
    message = str(info.value)
    for name in ("template.yaml", "template.yml", "template.json", ".aws-sam/build/template.yaml", "-t"):
        assert name in message
    assert str(tmp_path) in message


def test_a_config_without_template_loads_the_discovered_one_and_says_which(tmp_path, monkeypatch, caplog):
    (tmp_path / "template.yml").write_text(YAML.format(name="FromYml"))
    (tmp_path / "template.json").write_text(_json("FromJson"))
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.INFO, logger="lambdagate"):
        template = load_configured_template(Config(template=None))
    assert list(template.functions) == ["FromYml"]
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("template: ")] == \
        ["template: ./template.yml"]


def test_a_named_template_is_used_as_given(tmp_path, monkeypatch):
    (tmp_path / "template.yaml").write_text(YAML.format(name="Default"))
    (tmp_path / "other.yaml").write_text(YAML.format(name="Named"))
    monkeypatch.chdir(tmp_path)
    assert list(load_configured_template(Config(template="other.yaml")).functions) == ["Named"]


INLINE = """\
Resources:
  Serverless:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: {runtime}
      Handler: index.handler
      InlineCode: |
        {code}
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: {runtime}
      Handler: index.handler
      Code:
        ZipFile: |
          {code}
"""


@pytest.mark.parametrize("runtime, code, file", [
    ("python3.11", "def handler(event, context): return 'py'", "index.py"),
    ("nodejs20.x", "exports.handler = async () => 'js';", "index.js"),
])
def test_inline_code_is_written_once_as_index_in_a_directory_of_its_own(tmp_path, monkeypatch, runtime, code, file):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "template.yaml"
    path.write_text(INLINE.format(runtime=runtime, code=code))
    functions = load_template(str(path)).functions
    serverless, plain = functions["Serverless"], functions["Plain"]
    assert serverless.code_dir == plain.code_dir            # the same code: one directory
    assert serverless.code_dir.startswith(str(tmp_path / "cache" / "lambdagate" / "inline"))
    with open(f"{serverless.code_dir}/{file}") as f:
        assert f.read().strip() == code
    assert sorted(os.listdir(serverless.code_dir)) == [file]
    again = load_template(str(path)).functions["Serverless"]
    assert again.code_dir == serverless.code_dir
    changed = tmp_path / "changed.yaml"
    changed.write_text(INLINE.format(runtime=runtime, code=code.replace("'", "'x")))
    assert load_template(str(changed)).functions["Serverless"].code_dir != serverless.code_dir
