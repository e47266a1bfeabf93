"""The Lambda API over real HTTP with boto3: Invoke in its three types, errors, read and
concurrency operations, against a real scheduler with worker processes."""
import base64
import json
import threading

import botocore.exceptions
import pytest

from support.lambda_server import lambda_client, wait_for

pytestmark = pytest.mark.integration   # starts real processes


def payload_of(response):
    return json.loads(response["Payload"].read())


def test_request_response_returns_the_result_and_request_id(client):
    r = client.invoke(FunctionName="echo", Payload=b'{"a": 1}')
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r
    assert r["ExecutedVersion"] == "$LATEST"
    body = payload_of(r)
    assert body["event"] == {"a": 1}
    assert body["invoked_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:echo"
    assert r["ResponseMetadata"]["RequestId"] == body["request_id"]


def test_empty_payload_is_an_empty_object(client):
    assert payload_of(client.invoke(FunctionName="echo"))["event"] == {}


def test_tail_log_has_start_end_report(client):
    r = client.invoke(FunctionName="echo", Payload=b"{}", LogType="Tail")
    text = base64.b64decode(r["LogResult"]).decode()
    request_id = r["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id} Version: $LATEST" in text
    assert "echo handler ran" in text
    assert f"END RequestId: {request_id}" in text
    assert f"REPORT RequestId: {request_id}" in text
    assert len(base64.b64decode(r["LogResult"])) <= 4096


def test_no_log_result_without_tail(client):
    assert "LogResult" not in client.invoke(FunctionName="echo", Payload=b"{}")


def test_client_context_reaches_the_handler(client):
    context = base64.b64encode(json.dumps({"custom": {"tenant": "t-1"}, "env": {}}).encode()).decode()
    r = client.invoke(FunctionName="echo", Payload=b"{}", ClientContext=context)
    assert payload_of(r)["custom"] == {"tenant": "t-1"}


def test_bad_client_context_is_rejected(client):
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.invoke(FunctionName="echo", Payload=b"{}", ClientContext="not base64 json!")


def test_event_returns_202(client):
    r = client.invoke(FunctionName="echo", InvocationType="Event", Payload=b'{"x": 1}')
    assert r["StatusCode"] == 202
    assert r["Payload"].read() == b""
    assert r["ResponseMetadata"]["RequestId"]


def test_dry_run_returns_204_and_runs_nothing(client, server):
    # Event invocations of earlier tests run in the background: let them finish first
    assert server.call(server.app.state.async_invoker.drain(timeout_s=20))
    before = server.call(_totals(server, "Echo"))
    r = client.invoke(FunctionName="echo", InvocationType="DryRun", Payload=b"{}")
    assert r["StatusCode"] == 204
    assert server.call(_totals(server, "Echo")) == before


async def _totals(server, name):
    return server.scheduler.totals(name)["invocations"]


def test_function_error_is_unhandled(client):
    r = client.invoke(FunctionName="fail", Payload=b'{"n": 7}')
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    body = payload_of(r)
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "boom 7"


def test_timeout_is_an_unhandled_sandbox_timeout(client):
    r = client.invoke(FunctionName="slow", Payload=b'{"sleep": 3}')
    assert r["FunctionError"] == "Unhandled"
    body = payload_of(r)
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]


@pytest.mark.parametrize("name", [
    "echo",
    "echo:$LATEST",
    "arn:aws:lambda:us-east-1:123456789012:function:echo",
    "arn:aws:lambda:us-east-1:123456789012:function:echo:$LATEST",
    "123456789012:function:echo",
])
def test_every_function_name_form(client, name):
    body = payload_of(client.invoke(FunctionName=name, Payload=b"{}"))
    expected = "arn:aws:lambda:us-east-1:123456789012:function:echo"
    assert body["invoked_arn"] == (expected + ":$LATEST" if name.endswith(":$LATEST") else expected)


def test_qualifier_latest_and_missing_versions(client):
    assert client.invoke(FunctionName="echo", Qualifier="$LATEST", Payload=b"{}")["StatusCode"] == 200
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.invoke(FunctionName="echo", Qualifier="1", Payload=b"{}")
    assert info.value.response["Error"]["Message"] == \
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:echo:1"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="echo:live", Payload=b"{}")


def test_unknown_function_is_resource_not_found(client):
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.invoke(FunctionName="does-not-exist", Payload=b"{}")
    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Message"] == \
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:does-not-exist"
    assert error["ResponseMetadata"]["RequestId"]


def test_non_json_payload_is_invalid_request_content(client):
    with pytest.raises(client.exceptions.InvalidRequestContentException) as info:
        client.invoke(FunctionName="echo", Payload=b"not json")
    assert info.value.response["Error"]["Message"].startswith(
        "Could not parse request body into json: Could not parse payload into json: ")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_oversized_sync_payload_is_413(client):
    payload = b'"' + b"x" * (6 * 1024 * 1024) + b'"'
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.invoke(FunctionName="echo", Payload=payload)
    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert error["Error"]["Code"] == "RequestEntityTooLargeException"
    assert error["Error"]["Message"] == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"


def test_oversized_event_payload_is_413(client):
    payload = b'"' + b"x" * (1024 * 1024) + b'"'
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.invoke(FunctionName="echo", InvocationType="Event", Payload=payload)
    assert info.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert info.value.response["Error"]["Message"] == \
        f"{len(payload)} byte payload is too large for the Event invocation type (limit 1048576 bytes)"


async def _busy_workers(server, name):
    """How many of the function's workers are taken (starting or invoking): live, not idle."""
    return len(server.scheduler.worker_pids(name)) - server.scheduler.idle_count(name)


def test_throttle_with_reserved_concurrency_one(client, server):
    client.put_function_concurrency(FunctionName="sleepy", ReservedConcurrentExecutions=1)
    results = {}

    def slow_call():
        results["first"] = payload_of(client.invoke(FunctionName="sleepy", Payload=b'{"sleep": 1.5}'))

    try:
        thread = threading.Thread(target=slow_call)
        thread.start()
        # the first call holds the function's one unit of concurrency once a worker is taken for it
        # (seen from the host: a handler cannot leave a marker file there any more)
        assert wait_for(lambda: server.call(_busy_workers(server, "sleepy")) == 1 or "first" in results,
                        timeout=15)
        assert "first" not in results            # still running: its 1.5 s sleep holds the slot
        with pytest.raises(client.exceptions.TooManyRequestsException) as info:
            client.invoke(FunctionName="sleepy", Payload=b'{"sleep": 0}')
        error = info.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert error["Error"]["Message"] == "Rate Exceeded."
        thread.join(15)
        assert results["first"] == {"slept": 1.5}
    finally:
        client.delete_function_concurrency(FunctionName="sleepy")
    assert payload_of(client.invoke(FunctionName="sleepy", Payload=b'{"sleep": 0}')) == {"slept": 0}


def test_list_functions_paginates_by_50(client):
    paginator = client.get_paginator("list_functions")
    pages = list(paginator.paginate())
    assert len(pages) >= 2
    assert all(len(page["Functions"]) <= 50 for page in pages)
    names = [f["FunctionName"] for page in pages for f in page["Functions"]]
    assert len(names) == len(set(names))
    assert {f"tiny-{i:02d}" for i in range(60)} <= set(names)
    assert {"echo", "fail", "slow"} <= set(names)
    small = client.list_functions(MaxItems=7)
    assert len(small["Functions"]) == 7
    rest = client.list_functions(Marker=small["NextMarker"], MaxItems=1000)
    assert len(rest["Functions"]) == 50
    assert not {f["FunctionName"] for f in rest["Functions"]} & {f["FunctionName"] for f in small["Functions"]}


def test_get_function_and_configuration(client):
    r = client.get_function(FunctionName="slow")
    config = r["Configuration"]
    assert config["FunctionName"] == "slow"
    assert config["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:slow"
    assert config["Handler"] == "handlers.slow"
    assert config["Runtime"] == "python3.11"
    assert config["Timeout"] == 1
    assert config["MemorySize"] == 128
    assert config["EphemeralStorage"] == {"Size": 512}
    assert config["State"] == "Active"
    assert config["LastUpdateStatus"] == "Successful"
    assert config["Version"] == "$LATEST"
    assert config["PackageType"] == "Zip"
    assert len(base64.b64decode(config["CodeSha256"])) == 32
    assert config["CodeSize"] > 0
    # LastModified is a string in AWS's own format
    assert len(config["LastModified"]) == len("2019-11-21T19:32:12.000+0000")
    assert config["LastModified"].endswith("+0000")
    assert r["Code"]["RepositoryType"] == "S3"
    assert client.get_function_configuration(FunctionName="slow") | {"ResponseMetadata": None} == \
        config | {"ResponseMetadata": None}
    environment = client.get_function_configuration(FunctionName="collector")["Environment"]["Variables"]
    assert environment["LOG_TAG"] == "collected"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName="nope")


def test_configuration_reports_the_templates_ephemeral_storage(client):
    assert client.get_function_configuration(FunctionName="big-tmp")["EphemeralStorage"] == {"Size": 1024}
    assert client.get_function(FunctionName="big-tmp")["Configuration"]["EphemeralStorage"] == {"Size": 1024}
    listed = {f["FunctionName"]: f for page in client.get_paginator("list_functions").paginate()
              for f in page["Functions"]}
    assert listed["big-tmp"]["EphemeralStorage"] == {"Size": 1024}
    assert listed["echo"]["EphemeralStorage"] == {"Size": 512}


def test_function_active_waiter(client):
    client.get_waiter("function_active_v2").wait(FunctionName="echo", WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    client.get_waiter("function_exists").wait(FunctionName="echo", WaiterConfig={"Delay": 1, "MaxAttempts": 2})


def test_put_get_delete_concurrency(client):
    assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(FunctionName="tiny-01")
    before = client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    put = client.put_function_concurrency(FunctionName="tiny-01", ReservedConcurrentExecutions=5)
    assert put["ReservedConcurrentExecutions"] == 5
    try:
        assert client.get_function_concurrency(FunctionName="tiny-01")["ReservedConcurrentExecutions"] == 5
        assert client.get_function(FunctionName="tiny-01")["Concurrency"] == {"ReservedConcurrentExecutions": 5}
        assert client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == before - 5
    finally:
        client.delete_function_concurrency(FunctionName="tiny-01")
    assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(FunctionName="tiny-01")
    assert "Concurrency" not in client.get_function(FunctionName="tiny-01")


def test_reserved_concurrency_zero_throttles_everything(client):
    client.put_function_concurrency(FunctionName="tiny-02", ReservedConcurrentExecutions=0)
    try:
        with pytest.raises(client.exceptions.TooManyRequestsException):
            client.invoke(FunctionName="tiny-02", Payload=b"{}")
    finally:
        client.delete_function_concurrency(FunctionName="tiny-02")
    assert client.invoke(FunctionName="tiny-02", Payload=b"{}")["Payload"].read() == b"1"


def test_concurrency_validation(server, client):
    unchecked = lambda_client(server.url, parameter_validation=False)
    with pytest.raises(unchecked.exceptions.InvalidParameterValueException):
        unchecked.put_function_concurrency(FunctionName="tiny-03", ReservedConcurrentExecutions=-1)
    with pytest.raises(client.exceptions.InvalidParameterValueException) as info:
        client.put_function_concurrency(FunctionName="tiny-03", ReservedConcurrentExecutions=901)
    assert "below its minimum value of [100]" in info.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.put_function_concurrency(FunctionName="nope", ReservedConcurrentExecutions=1)


def test_unsupported_operation_is_named(client):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.create_alias(FunctionName="echo", Name="live", FunctionVersion="1")
    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert error["Error"]["Code"] == "NotImplemented"
    assert "CreateAlias" in error["Error"]["Message"]
    assert "Invoke" in error["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.list_layers()
    assert "ListLayers" in info.value.response["Error"]["Message"]


def test_responses_go_out_whole_in_one_write(client, monkeypatch):
    import gateway.http_protocol as http_protocol
    calls = []
    original = http_protocol.respond_whole

    def spy(cycle, status, headers, body):
        sent = original(cycle, status, headers, body)
        calls.append((cycle.scope["path"], status, sent))
        return sent

    monkeypatch.setattr(http_protocol, "respond_whole", spy)
    result = client.invoke(FunctionName="echo", Payload=b'{"whole": true}')
    assert payload_of(result)["event"] == {"whole": True}
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
    assert [(status, sent) for _, status, sent in calls] == [(200, True), (404, True)], calls
    assert calls[0][0].endswith("/functions/echo/invocations")


def test_responses_are_framed_by_one_content_length_and_a_204_by_none(server):
    import httpx
    with httpx.Client(base_url=server.url) as http:
        ok = http.post("/2015-03-31/functions/echo/invocations", content=b'{"a": 1}')
        missing = http.post("/2015-03-31/functions/no-such/invocations", content=b"{}")
        dry = http.post("/2015-03-31/functions/echo/invocations", content=b"{}",
                        headers={"X-Amz-Invocation-Type": "DryRun"})
    for response, status in ((ok, 200), (missing, 404)):
        assert response.status_code == status
        assert response.headers.get_list("content-length") == [str(len(response.content))]
    assert dry.status_code == 204 and dry.content == b""
    assert "content-length" not in dry.headers and "transfer-encoding" not in dry.headers
