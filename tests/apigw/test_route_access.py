"""How a guarded route's checks are put together (gateway.apigw.access, access_setup): stage and
method throttles per method, the API key taken from the occurrence the event shows, and a stage
throttle answering 429 through a real `start-api`."""
from __future__ import annotations

import textwrap

import httpx
import pytest

from gateway.types import ApiKeySpec, ApiSpec, RouteSpec, ThrottleSpec

API = ApiSpec("PetsApi", "REST", "prod")
KEY = "k" * 24 + "-valid-key"


def test_a_stage_throttle_limits_each_method_on_its_own(guarded_client):
    # one stage-wide setting, as MethodSettings /*/* gives every method: a bucket each, as on AWS
    stage = ThrottleSpec(rate_per_s=0.001, burst=2)
    pets, owners = RouteSpec(API, "GET", "/pets", "Pets", throttle=stage), \
        RouteSpec(API, "GET", "/owners", "Owners", throttle=stage)
    client, invoker = guarded_client([pets, owners])
    assert [client.get("/pets").status_code for _ in range(3)] == [200, 200, 429]
    throttled = client.get("/pets")
    assert (throttled.status_code, throttled.json()) == (429, {"message": "Too Many Requests"})
    assert throttled.headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert [client.get("/owners").status_code for _ in range(3)] == [200, 200, 429]
    assert [c.function for c in invoker.calls] == ["Pets", "Pets", "Owners", "Owners"]


@pytest.mark.parametrize("order, status", [((KEY, "x" * 30), 403), (("x" * 30, KEY), 200)],
                         ids=["valid-then-bogus", "bogus-then-valid"])
def test_a_repeated_api_key_header_is_judged_by_the_value_the_event_shows(guarded_client, order, status):
    route = RouteSpec(API, "GET", "/pets", "Pets", api_key_required=True)
    client, invoker = guarded_client([route], api_keys=(ApiKeySpec("Key", KEY),))
    response = client.get("/pets", headers=[("x-api-key", order[0]), ("x-api-key", order[1])])
    assert response.status_code == status
    if status == 200:
        event = invoker.calls[0].event
        shown = {name.lower(): value for name, value in event["headers"].items()}
        assert shown["x-api-key"] == KEY == event["requestContext"]["identity"]["apiKey"]
    else:
        assert invoker.calls == []


@pytest.mark.integration
def test_method_settings_throttle_a_real_start_api(module_start_api, tmp_path):
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n")
    (tmp_path / "template.yaml").write_text(textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Api:
            Type: AWS::Serverless::Api
            Properties:
              StageName: prod
              MethodSettings:
                - ResourcePath: "/*"
                  HttpMethod: "*"
                  ThrottlingRateLimit: 0.01
                  ThrottlingBurstLimit: 2
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Handler: app.handler
              Runtime: python3.11
              CodeUri: .
              Events:
                Get:
                  Type: Api
                  Properties: {RestApiId: !Ref Api, Path: /limited, Method: get}
        """))
    server = module_start_api(tmp_path / "template.yaml", name="throttled")
    answers = [httpx.get(server.base_url + "/limited", timeout=15) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert answers[2].json() == {"message": "Too Many Requests"}
    assert "0.01/s burst 2" in server.stderr_text()    # the route table says so
