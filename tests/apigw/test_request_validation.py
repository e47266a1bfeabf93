"""Request validators (gateway.apigw.request_validation): required parameters and body models,
answered with API Gateway's 400s before the function is invoked.

Through the real path: RouteSpecs with a RequestValidation, access_setup.build_access, the API
Gateway ASGI app and a fake invoker, over the TestClient the neighbouring tests use.
"""
from __future__ import annotations

import json

import pytest

from gateway.apigw.access import AccessRequest, Denied
from gateway.apigw.request_validation import RequestValidator, media_type
from gateway.errors import LambdagateError
from gateway.types import ApiSpec, RequestValidation, RouteSpec

API = ApiSpec("PetsApi", "REST", "prod")
BINARY_API = ApiSpec("FilesApi", "REST", "prod", binary_media_types=("*/*",))

PET = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
       "properties": {"name": {"type": "string"}, "price": {"type": "number", "maximum": 500}},
       "required": ["name", "price"]}
CSV_ROW = {"type": "array", "items": {"type": "string"}}          # a model for another media type
ANYTHING_WITH_ID = {"type": "object", "required": ["id"]}

MISSING = "Missing required request parameters"
INVALID_BODY = "Invalid request body"


@pytest.fixture
def serve(guarded_client):
    """``serve(validation, path="/pets/{petId}", method="POST", api=API) -> (client, invoker)``."""
    def make(validation: RequestValidation, path="/pets/{petId}", method="POST", api=API):
        return guarded_client([RouteSpec(api, method, path, "PetsFunction", validation=validation)])
    return make


def bad_request(response) -> str:
    """The message of API Gateway's 400, checking its shape."""
    assert response.status_code == 400, response.text
    assert response.headers["x-amzn-ErrorType"] == "BadRequestException"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-amzn-RequestId"]
    return response.json()["message"]


# --------------------------------------------------------------------------- required parameters

PARAMS = RequestValidation(required_querystrings=("qs1",), required_headers=("X-Header-Param",),
                           required_paths=("petId",))


def test_request_with_every_required_parameter_reaches_the_function(serve):
    client, invoker = serve(PARAMS)
    response = client.post("/pets/7?qs1=a", headers={"x-header-param": "v"})
    assert response.status_code == 200
    assert invoker.last_event["queryStringParameters"] == {"qs1": "a"}


@pytest.mark.parametrize("url, headers, missing", [
    ("/pets/7", {"X-Header-Param": "v"}, "[qs1]"),
    ("/pets/7?qs1=", {"X-Header-Param": "v"}, "[qs1]"),                  # blank counts as missing
    ("/pets/7?other=1", {"x-header-param": "v"}, "[qs1]"),
    ("/pets/7?qs1=a", {}, "[X-Header-Param]"),
    ("/pets/7?qs1=a", {"X-Header-Param": ""}, "[X-Header-Param]"),
    ("/pets/7", {}, "[X-Header-Param, qs1]"),
])
def test_missing_parameters_are_400_and_the_function_is_not_invoked(serve, url, headers, missing):
    client, invoker = serve(PARAMS)
    assert bad_request(client.post(url, headers=headers)) == f"{MISSING}: {missing}"
    assert invoker.calls == []


def test_header_names_are_matched_whatever_their_case(serve):
    client, invoker = serve(RequestValidation(required_headers=("x-token",)))
    assert client.post("/pets/1", headers={"X-TOKEN": "t"}).status_code == 200
    assert len(invoker.calls) == 1


def test_missing_names_come_headers_then_paths_then_query_strings(serve):
    # AWS's own order (LocalStack's AWS-validated snapshot): [x-header-param, issuer, qs1]
    validation = RequestValidation(required_querystrings=("qs1", "qs2"), required_headers=("h2", "h1"),
                                   required_paths=("issuer",))
    client, invoker = serve(validation)
    assert bad_request(client.post("/pets/1")) == f"{MISSING}: [h2, h1, issuer, qs1, qs2]"
    assert bad_request(client.post("/pets/1?qs2=x", headers={"h1": "y"})) == f"{MISSING}: [h2, issuer, qs1]"
    assert invoker.calls == []


def test_parameters_are_checked_before_the_body(serve):
    client, invoker = serve(RequestValidation(required_querystrings=("q",), body_models={"application/json": PET}))
    assert bad_request(client.post("/pets/1", content=b"not json")) == f"{MISSING}: [q]"
    assert bad_request(client.post("/pets/1?q=1", content=b"not json")) == INVALID_BODY
    assert invoker.calls == []


# --------------------------------------------------------------------------- body models

BODY = RequestValidation(body_models={"application/json": PET, "text/csv": CSV_ROW})


def test_valid_body_passes_to_the_function(serve):
    client, invoker = serve(BODY)
    response = client.post("/pets/1", json={"name": "Rex", "price": 20})
    assert response.status_code == 200
    assert json.loads(invoker.last_event["body"]) == {"name": "Rex", "price": 20}


@pytest.mark.parametrize("body", [
    b'{"name": "Rex"}',                         # a required property missing
    b'{"name": "Rex", "price": 501}',           # over the maximum
    b'{"name": 7, "price": 1}',                 # wrong type
    b'["name", "price"]',
    b'{"name": "Rex", "price": ',               # not JSON
    b'{"name": "Rex", "price": NaN}',           # not JSON either
    b"\xff\xfe{}",                              # not text
    b"",                                        # empty: validated as {}
])
def test_invalid_body_is_400_and_the_function_is_not_invoked(serve, body):
    client, invoker = serve(BODY)
    assert bad_request(client.post("/pets/1", content=body, headers={"content-type": "application/json"})) \
        == INVALID_BODY
    assert invoker.calls == []


def test_the_model_is_chosen_by_the_requests_media_type(serve):
    client, invoker = serve(BODY)
    # text/csv has its own model: a JSON list of strings passes it, the pet object does not
    assert client.post("/pets/1", content=b'["a", "b"]', headers={"content-type": "text/csv"}).status_code == 200
    assert bad_request(client.post("/pets/1", content=b'{"name": "Rex", "price": 1}',
                                   headers={"content-type": "text/csv"})) == INVALID_BODY
    # parameters and case do not change the media type
    assert client.post("/pets/1", content=b'{"name": "Rex", "price": 1}',
                       headers={"content-type": "Application/JSON; charset=utf-8"}).status_code == 200
    assert bad_request(client.post("/pets/1", content=b'["a"]',
                                   headers={"content-type": "application/json; charset=utf-8"})) == INVALID_BODY
    assert len(invoker.calls) == 2


def test_no_content_type_is_validated_as_application_json(serve):
    client, invoker = serve(BODY)
    # what LocalStack's AWS-validated test sees: a GET without body or Content-Type fails the model
    assert bad_request(client.post("/pets/1")) == INVALID_BODY
    assert client.post("/pets/1", content=b'{"name": "Rex", "price": 1}').status_code == 200
    assert len(invoker.calls) == 1


def test_a_media_type_without_a_model_is_not_validated(serve):
    client, invoker = serve(BODY)
    response = client.post("/pets/1", content=b"<pet/>", headers={"content-type": "application/xml"})
    assert response.status_code == 200
    assert invoker.last_event["body"] == "<pet/>"


def test_the_default_model_covers_media_types_without_their_own(serve):
    client, invoker = serve(RequestValidation(body_models={"text/csv": CSV_ROW, "$default": ANYTHING_WITH_ID}))
    assert bad_request(client.post("/pets/1", content=b"{}", headers={"content-type": "application/xml"})) \
        == INVALID_BODY
    assert client.post("/pets/1", content=b'{"id": 1}', headers={"content-type": "application/xml"}).status_code \
        == 200
    assert client.post("/pets/1", content=b'["x"]', headers={"content-type": "text/csv"}).status_code == 200
    assert len(invoker.calls) == 2


def test_a_base64_event_body_is_validated_decoded(serve):
    client, invoker = serve(BODY, api=BINARY_API)
    valid = json.dumps({"name": "Rex", "price": 3}).encode()
    assert client.post("/pets/1", content=valid, headers={"content-type": "application/json"}).status_code == 200
    assert invoker.last_event["isBase64Encoded"] is True       # the function got it in base64
    assert bad_request(client.post("/pets/1", content=b'{"name": "Rex"}',
                                   headers={"content-type": "application/json"})) == INVALID_BODY
    assert len(invoker.calls) == 1


def test_integers_beyond_64_bits_stay_integers():
    validator = RequestValidator(RequestValidation(body_models={"application/json": {
        "type": "object", "properties": {"id": {"type": "integer"}}}}))
    request = AccessRequest({"headers": [(b"content-type", b"application/json")]},
                            b'{"id": 123456789012345678901234567890}', {}, None, True, "r")
    assert validator.check(request) is None
    request.body = b'{"id": 1.5}'
    with pytest.raises(Denied) as denied:
        validator.check(request)
    assert denied.value.response[0] == 400


def test_a_model_that_is_not_json_schema_stops_the_start():
    with pytest.raises(LambdagateError, match="request model for application/json is not a valid JSON Schema"):
        RequestValidator(RequestValidation(body_models={"application/json": {"type": "no-such-type"}}))


@pytest.mark.parametrize("content_type, expected", [
    (None, "application/json"), ("", "application/json"), ("text/plain", "text/plain"),
    ("Application/JSON ; charset=UTF-8", "application/json"),
])
def test_media_type(content_type, expected):
    assert media_type(content_type) == expected
