"""`lambdagate invoke` end to end, in a subprocess: stdout, stderr and exit status."""
from __future__ import annotations

import json
import re
import socket
import subprocess
import sys

import pytest

from support.servers import checkout_env, one_function_template

pytestmark = pytest.mark.integration   # starts real processes

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

TEMPLATE = one_function_template("HelloFunction", timeout_s=3)   # 3 s: Lambda's default

APP = """\
def handler(event, context):
    print("event keys:", sorted(event))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"echo": event, "function": context.function_name}
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "app.py").write_text(APP)
    return tmp_path


def lambdagate(cwd, *args, stdin=None, timeout=30, extra_env=None):
    """Run `python -m gateway.cli ...` in cwd; the CompletedProcess (text mode)."""
    env = checkout_env(**(extra_env or {}))
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def assert_clean_usage_error(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, (fragment, proc.stderr)


def test_invoke_prints_the_result_and_logs_the_invocation(project):
    proc = lambdagate(project, "invoke")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"echo": {}, "function": "HelloFunction"}
    assert proc.stdout == '{"echo": {}, "function": "HelloFunction"}\n'     # AWS's Python runtime's spacing
    assert proc.stdout.count("\n") == 1                        # just the result on stdout
    err = proc.stderr.split("\n")
    start = [i for i, line in enumerate(err) if re.fullmatch(rf"START RequestId: {UUID} Version: \$LATEST", line)]
    end = [i for i, line in enumerate(err) if re.fullmatch(rf"END RequestId: {UUID}", line)]
    report = [i for i, line in enumerate(err) if re.fullmatch(
        rf"REPORT RequestId: {UUID}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\t"
        rf"Max Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t", line)]
    assert len(start) == len(end) == len(report) == 1, proc.stderr
    assert start[0] < end[0] < report[0]
    assert err[start[0] + 1] == "event keys: []"               # the function's output, in between
    assert err[start[0] + 1:end[0]] == ["event keys: []"]
    # the log file is written too
    log = (project / ".lambdagate" / "logs" / "HelloFunction.log").read_text()
    assert err[start[0]] in log and err[report[0]] in log


def test_function_error_exits_1_with_the_error_object(project):
    (project / "event.json").write_text('{"fail": true}')
    proc = lambdagate(project, "invoke", "HelloFunction", "-e", "event.json")
    assert proc.returncode == 1
    error = json.loads(proc.stdout)
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "asked to fail"
    assert re.fullmatch(UUID, error["requestId"])
    assert error["stackTrace"]
    assert "[ERROR] ValueError: asked to fail" in proc.stderr
    assert "\tStatus: error\tError Type: ValueError" in proc.stderr
    # the traceback reads as lines on the console; the log file keeps AWS's one event joined by \r
    assert "\r" not in proc.stderr and "\nTraceback (most recent call last):\n" in proc.stderr
    logged = (project / ".lambdagate" / "logs" / "HelloFunction.log").read_bytes().decode()
    assert "asked to fail\rTraceback (most recent call last):\r" in logged


def test_the_result_is_printed_as_awss_python_runtime_serialises_it(project):
    (project / "event.json").write_text(json.dumps({"text": "h\u00e9llo", "n": [1, 2.5]}))
    proc = lambdagate(project, "invoke", "-e", "event.json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == '{"echo": {"text": "h\\u00e9llo", "n": [1, 2.5]}, "function": "HelloFunction"}\n'


def test_event_from_a_file(project):
    (project / "event.json").write_text(json.dumps({"b": [1, 2], "a": "x"}))
    proc = lambdagate(project, "invoke", "--event", str(project / "event.json"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["echo"] == {"b": [1, 2], "a": "x"}
    assert "event keys: ['a', 'b']" in proc.stderr


def test_event_from_stdin(project):
    proc = lambdagate(project, "invoke", "HelloFunction", "-e", "-", stdin='{"from": "stdin"}')
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["echo"] == {"from": "stdin"}


def test_function_by_logical_id_or_function_name(tmp_path):
    (tmp_path / "template.yaml").write_text(TEMPLATE.replace("      Handler:", "      FunctionName: hello-fn\n"
                                                                           "      Handler:"))
    (tmp_path / "app.py").write_text(APP)
    by_id = lambdagate(tmp_path, "invoke", "HelloFunction")
    by_name = lambdagate(tmp_path, "invoke", "hello-fn")
    assert by_id.returncode == by_name.returncode == 0, (by_id.stderr, by_name.stderr)
    assert json.loads(by_id.stdout)["function"] == json.loads(by_name.stdout)["function"] == "hello-fn"


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_event_that_is_not_json(project, source):
    if source == "file":
        (project / "bad.json").write_text("{not json")
        proc = lambdagate(project, "invoke", "-e", "bad.json")
        assert_clean_usage_error(proc, "lambdagate: error:", "bad.json", "is not JSON")
    else:
        proc = lambdagate(project, "invoke", "-e", "-", stdin="definitely not json")
        assert_clean_usage_error(proc, "lambdagate: error:", "stdin", "is not JSON")


def test_event_file_that_does_not_exist(project):
    proc = lambdagate(project, "invoke", "-e", "nope.json")
    assert_clean_usage_error(proc, "lambdagate: error:", "nope.json")


def test_event_over_6_mb(project):
    limit = 6 * 1024 * 1024
    big = project / "big.json"
    big.write_text('{"data": "' + "x" * (limit - 12 + 1) + '"}')
    assert big.stat().st_size == limit + 1
    proc = lambdagate(project, "invoke", "-e", str(big))
    assert_clean_usage_error(proc, "lambdagate: error:", str(limit))


def test_unknown_function_names_the_available_ones(project):
    proc = lambdagate(project, "invoke", "NoSuchFunction")
    assert_clean_usage_error(proc, "NoSuchFunction", "HelloFunction", "template.yaml")


def test_two_functions_and_no_name(project):
    two = TEMPLATE + TEMPLATE.split("Resources:\n")[1].replace("HelloFunction", "OtherFunction")
    (project / "template.yaml").write_text(two)
    proc = lambdagate(project, "invoke")
    assert_clean_usage_error(proc, "HelloFunction", "OtherFunction")


def test_malformed_template_names_the_file(project):
    (project / "broken.yaml").write_text("Resources:\n  Fn: [unclosed\n")
    proc = lambdagate(project, "invoke", "-t", "broken.yaml")
    assert_clean_usage_error(proc, "broken.yaml")


def test_without_t_the_built_template_then_template_yml_is_found(project):
    (project / "template.yaml").rename(project / "template.yml")
    proc = lambdagate(project, "invoke")
    assert proc.returncode == 0, proc.stderr
    assert "template: ./template.yml" in proc.stderr
    built = project / ".aws-sam" / "build"
    built.mkdir(parents=True)
    (built / "template.yaml").write_text(TEMPLATE.replace("HelloFunction", "BuiltFunction").replace(
        "CodeUri: .", f"CodeUri: {project}"))
    proc = lambdagate(project, "invoke")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["function"] == "BuiltFunction"       # sam build's output wins
    assert "template: ./.aws-sam/build/template.yaml" in proc.stderr


def test_an_inline_code_function_runs(tmp_path):
    (tmp_path / "template.yaml").write_text("""\
Resources:
  Inline:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      InlineCode: |
        import os
        def handler(event, context):
            return {"file": __file__.rsplit("/", 1)[-1], "task_root": os.environ["LAMBDA_TASK_ROOT"]}
""")
    proc = lambdagate(tmp_path, "invoke", extra_env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["file"] == "index.py"
    assert result["task_root"].startswith(str(tmp_path / "cache" / "lambdagate" / "inline"))


@pytest.mark.parametrize("command, flag", [("start-api", "-p"), ("start-api", "--lambda-port"),
                                           ("start-lambda", "-p")])
def test_a_port_in_use_is_refused_before_anything_starts(project, command, flag):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = [command, flag, str(port)]
        if command == "start-api" and flag == "--lambda-port":
            with socket.socket() as free:
                free.bind(("127.0.0.1", 0))
                args += ["-p", str(free.getsockname()[1])]
        proc = lambdagate(project, *args)
    assert_clean_usage_error(proc, f"port {port}", "in use", flag)
    assert "API Gateway on" not in proc.stderr and "isolation:" not in proc.stderr   # nothing was started


def test_missing_template_names_the_file(tmp_path):
    proc = lambdagate(tmp_path, "invoke")
    assert_clean_usage_error(proc, "template.yaml")


@pytest.mark.parametrize("command, options", [
    ("invoke", ["--event", "--template", "--env-vars", "--parameter-overrides", "--region", "--state-dir",
                "--debug", "--no-memory-limit"]),
    ("start-api", ["--port", "--host", "--lambda-port", "--warm-containers", "--no-reload", "--keep-alive",
                   "--concurrency", "--quiet", "--template", "--env-vars", "--parameter-overrides", "--region",
                   "--state-dir", "--debug", "--no-memory-limit"]),
    ("start-lambda", ["--port", "--host", "--warm-containers", "--no-reload", "--keep-alive", "--concurrency",
                      "--quiet", "--template", "--env-vars", "--parameter-overrides", "--region", "--state-dir",
                      "--debug", "--no-memory-limit"]),
])
def test_help_of_each_subcommand_lists_its_options(tmp_path, command, options):
    proc = lambdagate(tmp_path, command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: lambdagate {command}")
    for option in options:
        assert re.search(rf"(^|[\s,]){re.escape(option)}\b", proc.stdout), (option, proc.stdout)


def test_help_lists_the_subcommands(tmp_path):
    proc = lambdagate(tmp_path, "--help")
    assert proc.returncode == 0
    for command in ("invoke", "start-api", "start-lambda"):
        assert command in proc.stdout
