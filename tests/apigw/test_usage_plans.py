"""API keys and usage plans (gateway.apigw.usage_plans): which key may call a method with
ApiKeyRequired, the plan's throttle and quota per key, the key file, and what the function sees.

Unit tests drive ApiKeys and the token bucket with injected clocks; the rest go through the real
path - RouteSpecs, access_setup.build_access, the API Gateway ASGI app and a fake invoker - over
the TestClient the neighbouring tests use.
"""
from __future__ import annotations

import calendar
import json
import logging
import re
import time

import pytest

from gateway.apigw.access import AccessRequest, Denied, Throttle
from gateway.apigw.access_setup import build_access
from gateway.apigw.usage_plans import (GENERATED_KEY_LENGTH, MIN_KEY_LENGTH, ApiKeyError, ApiKeys,
                                       generate_key_value, key_id_for, quota_period_bounds)
from gateway.errors import LambdagateError
from gateway.types import ApiKeySpec, ApiSpec, QuotaSpec, RouteSpec, ThrottleSpec, UsagePlanSpec
from support.fakes import FakeInvoker

API = ApiSpec("PetsApi", "REST", "prod")
OTHER_STAGE = ApiSpec("PetsApi", "REST", "dev")
KEY_A = "a" * 20 + "-first-key"
KEY_B = "b" * 20 + "-second-key"
PROD = (("PetsApi", "prod"),)


def utc(*fields) -> float:
    return float(calendar.timegm(fields + (0,) * (6 - len(fields))))


def route(path="/pets", method="GET", api=API, **extra) -> RouteSpec:
    return RouteSpec(api, method, path, "PetsFunction", api_key_required=True, **extra)


def plan(name="Basic", stages=PROD, throttle=None, quota=None, method_throttles=None) -> UsagePlanSpec:
    return UsagePlanSpec(name, stages=stages, throttle=throttle, quota=quota, method_throttles=method_throttles or {})


def keys_in(*plans_, values=(KEY_A, KEY_B), keys_file=None, **clocks) -> ApiKeys:
    names = tuple(p.name for p in plans_)
    specs = tuple(ApiKeySpec(f"Key{i}", value, usage_plans=names) for i, value in enumerate(values))
    return ApiKeys(specs, plans_, keys_file, **clocks)


def ask(keys: ApiKeys, value, on=None):
    """ApiKeys.check for one request: the identity fields, or the Denied response."""
    on = on or route()
    request = AccessRequest({"headers": []}, b"", {}, on, True, "req-1")
    try:
        return keys.check(request, value)
    except Denied as denied:
        return denied.response


def message(response) -> tuple[int, str, str]:
    status, headers, body = response
    return status, json.loads(body)["message"], dict(headers)[b"x-amzn-ErrorType"].decode()


class Clock:
    """A settable clock; the monotonic one starts well after time.monotonic() so that a bucket
    made at startup (with the real clock) is full at the first request, as it would be."""

    def __init__(self, start_s: float):
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s


# --------------------------------------------------------------------------- the token bucket

def test_bucket_gives_its_burst_at_once_then_refuses():
    bucket = Throttle(rate_per_s=2, burst=3)
    start_s = time.monotonic()
    assert [bucket.take(start_s) for _ in range(4)] == [True, True, True, False]


def test_bucket_refills_at_its_rate():
    bucket = Throttle(rate_per_s=2, burst=3)
    start_s = time.monotonic()
    for _ in range(3):
        bucket.take(start_s)
    assert not bucket.take(start_s + 0.4)            # 0.8 of a token
    assert bucket.take(start_s + 0.55)               # 1.1: one request
    assert not bucket.take(start_s + 0.6)


def test_bucket_never_holds_more_than_its_burst():
    bucket = Throttle(rate_per_s=100, burst=2)
    start_s = time.monotonic()
    later_s = start_s + 3600                          # an hour idle would be 360000 tokens uncapped
    assert [bucket.take(later_s) for _ in range(3)] == [True, True, False]


# --------------------------------------------------------------------------- quota periods

@pytest.mark.parametrize("period, now, start, end", [
    ("DAY", utc(2024, 2, 29, 13, 5), utc(2024, 2, 29), utc(2024, 3, 1)),
    ("DAY", utc(2024, 12, 31, 23, 59, 59), utc(2024, 12, 31), utc(2025, 1, 1)),
    ("WEEK", utc(2024, 2, 29, 13), utc(2024, 2, 25), utc(2024, 3, 3)),      # a Thursday: from Sunday the 25th
    ("WEEK", utc(2024, 3, 3), utc(2024, 3, 3), utc(2024, 3, 10)),           # Sunday 00:00 starts a week
    ("WEEK", utc(2024, 3, 2, 23, 59), utc(2024, 2, 25), utc(2024, 3, 3)),   # Saturday night ends one
    ("MONTH", utc(2024, 2, 29, 13), utc(2024, 2, 1), utc(2024, 3, 1)),
    ("MONTH", utc(2024, 12, 15), utc(2024, 12, 1), utc(2025, 1, 1)),
])
def test_quota_periods_are_utc_calendar_periods(period, now, start, end):
    assert quota_period_bounds(period, now) == (start, end)
    if period == "WEEK":
        assert time.gmtime(start).tm_wday == 6       # Sunday


def test_quota_refuses_over_its_limit_and_comes_back_next_day():
    wall = Clock(utc(2024, 5, 6, 23, 59))
    keys = keys_in(plan(quota=QuotaSpec(2, "DAY")), wall_clock_s=wall)
    assert [ask(keys, KEY_A)["apiKey"] for _ in range(2)] == [KEY_A, KEY_A]
    assert message(ask(keys, KEY_A)) == (429, "Limit Exceeded", "LimitExceededException")
    wall.now_s = utc(2024, 5, 7, 0, 0, 1)                          # midnight UTC has passed
    assert ask(keys, KEY_A)["apiKey"] == KEY_A
    assert ask(keys, KEY_A)["apiKey"] == KEY_A
    assert message(ask(keys, KEY_A))[0] == 429


def test_quota_counts_per_key():
    keys = keys_in(plan(quota=QuotaSpec(1, "MONTH")))
    assert ask(keys, KEY_A)["apiKey"] == KEY_A
    assert message(ask(keys, KEY_A))[1] == "Limit Exceeded"
    assert ask(keys, KEY_B)["apiKey"] == KEY_B


def test_quota_offset_lowers_only_the_first_period():
    wall = Clock(utc(2024, 5, 8, 12))                  # a Wednesday
    keys = keys_in(plan(quota=QuotaSpec(3, "WEEK", offset=2)), wall_clock_s=wall)
    assert ask(keys, KEY_A)["apiKey"] == KEY_A
    assert message(ask(keys, KEY_A))[1] == "Limit Exceeded"
    wall.now_s = utc(2024, 5, 12, 0, 0, 1)             # Sunday: the next week has the whole limit
    assert [ask(keys, KEY_A)["apiKey"] for _ in range(3)] == [KEY_A] * 3
    assert message(ask(keys, KEY_A))[1] == "Limit Exceeded"


def test_a_throttled_request_does_not_count_against_the_quota():
    mono = Clock(time.monotonic() + 1000)
    keys = keys_in(plan(throttle=ThrottleSpec(1, 1), quota=QuotaSpec(2, "DAY")), monotonic_s=mono)
    assert ask(keys, KEY_A)["apiKey"] == KEY_A
    assert message(ask(keys, KEY_A)) == (429, "Too Many Requests", "TooManyRequestsException")
    mono.now_s += 1.0
    assert ask(keys, KEY_A)["apiKey"] == KEY_A         # the second of the quota's two
    mono.now_s += 1.0
    assert message(ask(keys, KEY_A))[1] == "Limit Exceeded"


def test_plan_throttle_is_per_key_and_refills():
    mono = Clock(time.monotonic() + 1000)
    keys = keys_in(plan(throttle=ThrottleSpec(rate_per_s=2, burst=1)), monotonic_s=mono)
    assert ask(keys, KEY_A)["apiKey"] == KEY_A
    assert message(ask(keys, KEY_A))[1] == "Too Many Requests"
    assert ask(keys, KEY_B)["apiKey"] == KEY_B          # its own bucket
    mono.now_s += 0.5
    assert ask(keys, KEY_A)["apiKey"] == KEY_A


def test_method_throttle_replaces_the_plan_throttle_for_that_method():
    mono = Clock(time.monotonic() + 1000)
    limited = {("PetsApi", "prod", "/pets/{id}/DELETE"): ThrottleSpec(1, 1)}
    keys = keys_in(plan(throttle=ThrottleSpec(1, 5), method_throttles=limited), monotonic_s=mono)
    delete = route("/pets/{id}", "DELETE")
    assert ask(keys, KEY_A, delete)["apiKey"] == KEY_A
    assert message(ask(keys, KEY_A, delete))[1] == "Too Many Requests"
    assert [ask(keys, KEY_A)["apiKey"] for _ in range(4)] == [KEY_A] * 4    # GET /pets: the plan's 5


def test_key_outside_every_plan_of_the_stage_is_forbidden():
    keys = keys_in(plan(stages=(("PetsApi", "dev"),)))
    assert message(ask(keys, KEY_A)) == (403, "Forbidden", "ForbiddenException")
    assert ask(keys, KEY_A, route(api=OTHER_STAGE))["apiKey"] == KEY_A


def test_without_usage_plans_any_enabled_key_passes():
    keys = ApiKeys((ApiKeySpec("Open", KEY_A), ApiKeySpec("Off", KEY_B, enabled=False)), (), None)
    assert ask(keys, KEY_A)["apiKey"] == KEY_A
    assert message(ask(keys, KEY_B))[0] == 403
    assert message(ask(keys, "c" * 40))[0] == 403


def test_key_id_is_stable_and_shaped_like_api_gateways():
    first, second = keys_in(plan()), keys_in(plan())
    ids = {ask(first, KEY_A)["apiKeyId"], ask(first, KEY_B)["apiKeyId"]}
    assert len(ids) == 2
    assert ask(second, KEY_A)["apiKeyId"] == ask(first, KEY_A)["apiKeyId"]
    assert all(re.fullmatch(r"[a-z0-9]{10}", key_id) for key_id in ids)
    assert key_id_for("template:Key0") != key_id_for("template:Key1")


def test_generated_key_values_look_like_aws_ones():
    values = {generate_key_value() for _ in range(50)}
    assert len(values) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9]{%d}" % GENERATED_KEY_LENGTH, v) for v in values)


def test_a_template_key_without_value_is_generated_and_logged_once_with_its_name(caplog):
    spec = ApiKeySpec("PartnerKey", None, usage_plans=("Basic",))
    starts = []
    for _ in range(2):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="lambdagate"):
            keys = ApiKeys((spec,), (plan(),), None)
        logged = [r.getMessage() for r in caplog.records if "PartnerKey" in r.getMessage()]
        assert len(logged) == 1
        value = re.search(r"\b[A-Za-z0-9]{40}\b", logged[0]).group(0)
        starts.append((keys, value))
    (first, first_value), (second, second_value) = starts
    assert first_value != second_value                  # a new value at every start...
    assert ask(first, first_value)["apiKey"] == first_value
    assert ask(second, first_value)[0] == 403
    assert ask(second, second_value)["apiKeyId"] == ask(first, first_value)["apiKeyId"]   # ...the same id


def test_two_keys_with_one_value_stop_the_start():
    with pytest.raises(ApiKeyError, match="'Two' has the value of API key 'One'"):
        ApiKeys((ApiKeySpec("One", KEY_A), ApiKeySpec("Two", KEY_A)), (), None)


# --------------------------------------------------------------------------- --api-keys FILE

def write(tmp_path, content) -> str:
    path = tmp_path / "keys.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def test_key_file_keys_join_every_plan_unless_they_name_theirs(tmp_path):
    path = write(tmp_path, [{"value": KEY_A}, {"value": KEY_B, "name": "dev only", "usagePlans": ["Dev"]},
                            {"value": "c" * 25, "enabled": False}])
    keys = ApiKeys((), (plan("Basic"), plan("Dev", stages=(("PetsApi", "dev"),))), path)
    assert ask(keys, KEY_A)["apiKey"] == KEY_A
    assert ask(keys, KEY_A, route(api=OTHER_STAGE))["apiKey"] == KEY_A
    assert message(ask(keys, KEY_B))[0] == 403
    assert ask(keys, KEY_B, route(api=OTHER_STAGE))["apiKey"] == KEY_B
    assert message(ask(keys, "c" * 25))[0] == 403


@pytest.mark.parametrize("content, complaint", [
    ("[{", "is not JSON"),
    ({"value": KEY_A}, "expected a JSON list"),
    (["k" * 30], r"entry \[0\]: expected an object"),
    ([{"value": KEY_A}, {"name": "x"}], r"entry \[1\]: \"value\" is required"),
    ([{"value": "short"}], rf"entry \[0\]: \"value\" has 5 characters; .* at least {MIN_KEY_LENGTH}"),
    ([{"value": "k" * 19 + " "}], "printable ASCII without spaces"),
    ([{"value": KEY_A, "enabled": "yes"}], r"entry \[0\] \(keys.json\[0\]\): \"enabled\" must be true or false"),
    ([{"value": KEY_A, "usagePlans": ["Gold"]}], r"unknown usage plan\(s\) Gold; the template declares Basic"),
    ([{"value": KEY_A, "usagePlans": "Basic"}], "must be a list of usage plan names"),
    ([{"value": KEY_A, "usageplans": ["Basic"]}], r"unknown field\(s\) usageplans"),
    ([{"value": KEY_A, "name": "one"}, {"value": KEY_A, "name": "two"}],
     r"entry \[1\]: API key 'two' has the value of API key 'one' \(API keys file .*, entry \[0\]\)"),
])
def test_a_bad_key_file_stops_the_start_naming_file_and_entry(tmp_path, content, complaint):
    path = write(tmp_path, content)
    with pytest.raises(ApiKeyError, match=complaint) as raised:
        ApiKeys((), (plan(),), path)
    assert isinstance(raised.value, LambdagateError)      # the command line shows it without a traceback
    assert path in str(raised.value)


def test_a_missing_key_file_is_named(tmp_path):
    path = str(tmp_path / "nowhere.json")
    with pytest.raises(ApiKeyError, match=f"cannot read the API keys file {re.escape(path)}"):
        ApiKeys((), (), path)


# --------------------------------------------------------------------------- through the API Gateway app

@pytest.fixture
def serve(guarded_client):
    """``serve(routes, **build_access_args) -> (client, invoker)``: the app with its access checks."""
    return guarded_client


def keyed(*plans_, values=(KEY_A, KEY_B)) -> dict:
    names = tuple(p.name for p in plans_)
    return {"api_keys": tuple(ApiKeySpec(f"Key{i}", v, usage_plans=names) for i, v in enumerate(values)),
            "usage_plans": plans_}


def error_of(response) -> tuple[int, str, str]:
    return response.status_code, response.json()["message"], response.headers.get("x-amzn-ErrorType")


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "z" * 30}, {"x-api-key": ""}, {"x-api-key": KEY_B}],
                         ids=["missing", "unknown", "empty", "disabled"])
def test_request_without_a_valid_key_is_forbidden_and_never_invoked(serve, headers):
    keys = {"api_keys": (ApiKeySpec("On", KEY_A, usage_plans=("Basic",)),
                         ApiKeySpec("Off", KEY_B, enabled=False, usage_plans=("Basic",))),
            "usage_plans": (plan(),)}
    client, invoker = serve([route()], **keys)
    response = client.get("/pets", headers=headers)
    assert error_of(response) == (403, "Forbidden", "ForbiddenException")
    assert response.headers["x-amzn-RequestId"]
    assert invoker.calls == []


def test_valid_key_reaches_the_function_with_its_identity(serve):
    client, invoker = serve([route()], **keyed(plan()))
    response = client.get("/pets", headers={"x-api-key": KEY_A})
    assert response.status_code == 200
    identity = invoker.last_event["requestContext"]["identity"]
    assert identity["apiKey"] == KEY_A
    assert re.fullmatch(r"[a-z0-9]{10}", identity["apiKeyId"])
    client.get("/pets", headers={"x-api-key": KEY_B})
    assert invoker.last_event["requestContext"]["identity"]["apiKeyId"] != identity["apiKeyId"]


def test_route_without_api_key_required_ignores_keys(serve):
    open_route = RouteSpec(API, "GET", "/health", "PetsFunction")
    client, invoker = serve([route(), open_route], **keyed(plan()))
    assert client.get("/health").status_code == 200
    assert invoker.last_event["requestContext"]["identity"]["apiKey"] is None


def test_throttled_key_gets_429_then_recovers(serve):
    client, invoker = serve([route()], **keyed(plan(throttle=ThrottleSpec(rate_per_s=2, burst=1))))
    assert client.get("/pets", headers={"x-api-key": KEY_A}).status_code == 200
    throttled = client.get("/pets", headers={"x-api-key": KEY_A})
    assert error_of(throttled) == (429, "Too Many Requests", "TooManyRequestsException")
    assert len(invoker.calls) == 1
    time.sleep(0.6)                                   # a token every 0.5 s
    assert client.get("/pets", headers={"x-api-key": KEY_A}).status_code == 200


def test_two_keys_are_throttled_independently(serve):
    client, invoker = serve([route()], **keyed(plan(throttle=ThrottleSpec(rate_per_s=0.01, burst=1))))
    assert client.get("/pets", headers={"x-api-key": KEY_A}).status_code == 200
    assert client.get("/pets", headers={"x-api-key": KEY_A}).status_code == 429
    assert client.get("/pets", headers={"x-api-key": KEY_B}).status_code == 200
    assert client.get("/pets", headers={"x-api-key": KEY_B}).status_code == 429
    assert [c.event["requestContext"]["identity"]["apiKey"] for c in invoker.calls] == [KEY_A, KEY_B]


def test_quota_exceeded_is_429_limit_exceeded(serve):
    client, invoker = serve([route()], **keyed(plan(quota=QuotaSpec(2, "DAY"))))
    for _ in range(2):
        assert client.get("/pets", headers={"x-api-key": KEY_A}).status_code == 200
    over = client.get("/pets", headers={"x-api-key": KEY_A})
    assert error_of(over) == (429, "Limit Exceeded", "LimitExceededException")
    assert over.content == b'{"message":"Limit Exceeded"}'
    assert len(invoker.calls) == 2


def test_stage_throttle_answers_429_before_the_function(serve):
    limited = RouteSpec(API, "GET", "/pets", "PetsFunction", throttle=ThrottleSpec(rate_per_s=0.01, burst=2))
    client, invoker = serve([limited])
    assert [client.get("/pets").status_code for _ in range(3)] == [200, 200, 429]
    assert error_of(client.get("/pets")) == (429, "Too Many Requests", "TooManyRequestsException")
    assert len(invoker.calls) == 2


def test_key_file_keys_work_through_the_app(serve, tmp_path):
    path = write(tmp_path, [{"value": "f" * 32, "name": "from file"}])
    client, invoker = serve([route()], usage_plans=(plan(),), api_keys_file=path)
    assert client.get("/pets", headers={"x-api-key": "f" * 32}).status_code == 200
    assert invoker.last_event["requestContext"]["identity"]["apiKey"] == "f" * 32
    assert client.get("/pets", headers={"x-api-key": KEY_A}).status_code == 403


def test_a_bad_key_file_fails_build_access(tmp_path):
    path = write(tmp_path, [{"value": "short"}])
    with pytest.raises(ApiKeyError, match=re.escape(path)):
        build_access([route()], FakeInvoker(), region="us-east-1", usage_plans=(plan(),), api_keys_file=path)
