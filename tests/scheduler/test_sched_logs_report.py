"""Platform log lines (aws-contract.md §4.5): the per-function log file, START/END/REPORT in AWS's
exact text, billing, Max Memory Used, and the totals."""
from __future__ import annotations

import io
import json
import math
import re

import pytest

pytestmark = pytest.mark.integration   # starts real processes

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
INIT_START_RE = re.compile(r"^INIT_START Runtime Version: python:3\.11\.\S+\tRuntime Version ARN: "
                           r"arn:aws:lambda:[a-z0-9-]+::runtime:[0-9a-f]{64}$")
START_RE = re.compile(rf"^START RequestId: ({UUID}) Version: \$LATEST$")
END_RE = re.compile(rf"^END RequestId: ({UUID})$")
REPORT_RE = re.compile(rf"^REPORT RequestId: ({UUID})\tDuration: (\d+\.\d\d) ms\tBilled Duration: (\d+) ms\t"
                       rf"Memory Size: 128 MB\tMax Memory Used: (\d+) MB\t(?:Init Duration: (\d+\.\d\d) ms\t)?$")

PRINTING = """
def handler(event, context):
    print("line for", context.aws_request_id)
    if event.get("fail"):
        raise ValueError("failed on purpose")
    return "ok"
"""


def test_log_file_has_awss_start_end_report_lines(run, make_function, open_scheduler, log_dir):
    spec = make_function(PRINTING, name="LogFn", function_name="log-fn-name")
    console = io.StringIO()

    async def body():
        async with open_scheduler([spec], console=console) as s:
            return [await s.invoke(spec.logical_id, b"{}", want_log=True) for _ in range(3)]

    results = run(body())
    path = log_dir / "log-fn-name.log"                    # named after FunctionName
    assert sorted(p.name for p in log_dir.iterdir()) == ["log-fn-name.log"]
    text = path.read_text()
    assert console.getvalue() == text                     # the console gets the same lines
    assert text == "".join(r.log.decode() for r in results)   # and each result's log is its slice of it
    lines = text.split("\n")
    assert lines[-1] == ""
    lines = lines[:-1]

    # one INIT_START, before the first START only
    assert INIT_START_RE.match(lines[0]), lines[0]
    assert sum(line.startswith("INIT_START") for line in lines) == 1
    body_lines = lines[1:]
    assert len(body_lines) == 4 * len(results)
    for i, result in enumerate(results):
        start, output, end, report = body_lines[4 * i:4 * i + 4]
        rid = result.request_id
        assert START_RE.match(start).group(1) == rid
        assert output == f"line for {rid}"
        assert END_RE.match(end).group(1) == rid
        m = REPORT_RE.match(report)
        assert m, repr(report)
        assert m.group(1) == rid
        duration_ms, billed_ms, max_used, init_ms = m.group(2), int(m.group(3)), int(m.group(4)), m.group(5)
        assert (init_ms is not None) == (i == 0)          # Init Duration on the cold start only
        assert billed_ms == result.billed_ms
        # Billed Duration = ceil(Duration + Init Duration), in whole ms (the printed values are rounded to 0.01)
        printed_total = float(duration_ms) + float(init_ms or 0)
        assert math.ceil(printed_total - 0.01) <= billed_ms <= math.ceil(printed_total + 0.01)
        assert billed_ms == math.ceil((result.duration_ns + result.init_duration_ns) / 1e6)
        assert abs(float(duration_ms) - result.duration_ns / 1e6) <= 0.0051
        assert max_used == result.max_memory_used_mb > 0


def test_log_files_are_per_function(run, make_function, open_scheduler, log_dir):
    spec_a = make_function(PRINTING)
    spec_b = make_function(PRINTING)

    async def body():
        async with open_scheduler([spec_a, spec_b]) as s:
            return await s.invoke(spec_a.logical_id, b"{}"), await s.invoke(spec_b.logical_id, b"{}")

    result_a, result_b = run(body())
    text_a = (log_dir / f"{spec_a.function_name}.log").read_text()
    text_b = (log_dir / f"{spec_b.function_name}.log").read_text()
    assert result_a.request_id in text_a and result_a.request_id not in text_b
    assert result_b.request_id in text_b and result_b.request_id not in text_a


HOLDER = """
held = None

def handler(event, context):
    global held
    if event.get("hold_mb"):
        held = b"x" * (event["hold_mb"] * 1024 * 1024)
    return "ok"
"""


def test_max_memory_used_reflects_real_memory(run, make_function, open_scheduler):
    heavy = make_function(HOLDER)
    light = make_function(HOLDER)

    async def body():
        async with open_scheduler([heavy, light]) as s:
            return (await s.invoke(heavy.logical_id, b'{"hold_mb": 60}', want_log=True),
                    await s.invoke(light.logical_id, b"{}", want_log=True))

    heavy_result, light_result = run(body())
    heavy_used = int(REPORT_RE.search(heavy_result.log.decode().split("\n")[-2]).group(4))
    light_used = int(REPORT_RE.search(light_result.log.decode().split("\n")[-2]).group(4))
    assert heavy_used == heavy_result.max_memory_used_mb
    assert heavy_used >= 60
    assert 0 < light_used < 60


@pytest.mark.parametrize("handler, event", [("app.handler", b'{"exit": 3}'), ("app.handler", b'{"sleep": 5}'),
                                            ("missing.handler", b"{}")], ids=["crash", "timeout", "init-failure"])
def test_max_memory_used_is_real_when_the_first_invocation_dies(run, make_function, open_scheduler, handler, event):
    code = ("import sys, time\ndef handler(event, context):\n    if 'exit' in event:\n        sys.exit(event['exit'])\n"
            "    time.sleep(event['sleep'])\n")
    spec = make_function(code, timeout_s=1, handler=handler)

    async def body():
        async with open_scheduler([spec]) as s:
            return await s.invoke(spec.logical_id, event, want_log=True)

    result = run(body())
    assert result.status in ("error", "timeout")
    report = next(line for line in result.log.decode().split("\n") if line.startswith("REPORT"))
    used = int(re.search(r"\tMax Memory Used: (\d+) MB\t", report).group(1))
    assert used > 0, report
    assert result.max_memory_used_mb > 0


def test_totals_add_up(run, make_function, open_scheduler):
    spec = make_function(PRINTING, memory_mb=256)

    async def body():
        async with open_scheduler([spec]) as s:
            results = [await s.invoke(spec.logical_id, event) for event in
                       (b"{}", b'{"fail": true}', b"{}", b"{}")]
            return results, s.totals(spec.logical_id), s.totals(spec.function_name)

    results, totals, by_name = run(body())
    assert totals == by_name                                  # logical id or FunctionName
    assert totals["invocations"] == 4
    assert totals["errors"] == 1
    assert totals["timeouts"] == 0
    assert totals["throttles"] == 0
    assert totals["cold_starts"] == 1
    assert totals["billed_ms"] == sum(r.billed_ms for r in results)
    assert totals["mb_ms"] == sum(r.billed_ms * 256 for r in results)
    assert totals["duration_ns"] == sum(r.duration_ns for r in results)
    assert [r.memory_size_mb for r in results] == [256] * 4
    assert sum(r.init_duration_ns > 0 for r in results) == 1
    assert json.loads(results[1].payload)["errorType"] == "ValueError"


CHATTY = """
def handler(event, context):
    print(f"{context.aws_request_id} " + "x" * 400_000)
    return 1
"""


def test_log_files_rotate_at_the_configured_size_and_count(run, make_function, open_scheduler, log_dir):
    spec = make_function(CHATTY, name="Chatty", function_name="chatty")

    async def body():
        async with open_scheduler([spec], log_file_max_mb=1, log_files_kept=2) as s:
            return [(await s.invoke(spec.logical_id, b"{}")).request_id for _ in range(8)]

    ids = run(body())
    assert sorted(p.name for p in log_dir.iterdir()) == ["chatty.log", "chatty.log.1"]
    sizes = [p.stat().st_size for p in log_dir.iterdir()]
    assert all(size <= 1024 * 1024 for size in sizes), sizes
    newest = (log_dir / "chatty.log").read_text()
    assert ids[-1] in newest and ids[0] not in newest + (log_dir / "chatty.log.1").read_text()
