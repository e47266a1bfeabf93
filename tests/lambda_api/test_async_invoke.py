"""Asynchronous invocation over HTTP: events run, retries with (scaled-down) AWS delays,
destination records, dead letters, and the EventInvokeConfig operations.

A function cannot write to the host's files: the handlers (`record` in support/lambda_server.py)
print the event they were given, and the tests read it back from the function's log file, under
the request id of the START line it follows."""
import os
import time

import pytest

from support.lambda_server import logged_events, read_jsonl, wait_for

pytestmark = pytest.mark.integration   # starts real processes


def records_for(path, event_id):
    return [r for r in read_jsonl(path) if r.get("requestPayload", {}).get("id") == event_id]


def logged_for(server, function_name, tag, event_id):
    """[(request id, event)] the function logged for the event with this id."""
    return [(request_id, event) for request_id, event in logged_events(server.state_dir, function_name, tag)
            if event.get("id") == event_id]


def collected(server, event_id):
    """The destination records the collector function was invoked with, for this event id."""
    return [record for _, record in logged_events(server.state_dir, "collector", "collected")
            if record.get("requestPayload", {}).get("id") == event_id]


def test_event_invocation_runs_the_handler(client, server):
    r = client.invoke(FunctionName="appender", InvocationType="Event", Payload=b'{"id": "run-1"}')
    assert r["StatusCode"] == 202
    assert wait_for(lambda: logged_for(server, "appender", "appended", "run-1"), timeout=15)
    # it ran once, as the request the 202 answered (the function's aws_request_id is that one)
    assert logged_for(server, "appender", "appended", "run-1") == \
        [(r["ResponseMetadata"]["RequestId"], {"id": "run-1"})]


def test_retries_then_on_failure_lambda_destination(client, server):
    started = time.monotonic()
    r = client.invoke(FunctionName="failing", InvocationType="Event", Payload=b'{"id": "fail-1", "n": 1}')
    request_id = r["ResponseMetadata"]["RequestId"]
    assert wait_for(lambda: collected(server, "fail-1"), timeout=20)
    elapsed = time.monotonic() - started

    def attempts():
        return logged_for(server, "failing", "attempted", "fail-1")

    # the attempts' log lines were written no later than the collector's (at most a batch apart)
    assert wait_for(lambda: len(attempts()) >= 3, timeout=5), attempts()
    # the first attempt and MaximumRetryAttempts=2 retries, each with the request id of the 202
    assert attempts() == [(request_id, {"id": "fail-1", "n": 1})] * 3
    assert elapsed >= 0.3 + 0.6 - 0.05             # retry delays scaled from AWS's 60 s and 120 s
    [record] = collected(server, "fail-1")
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:failing:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"id": "fail-1", "n": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "always failing"
    assert record["timestamp"].endswith("Z") and len(record["timestamp"]) == len("2019-11-14T18:16:05.568Z")


def test_on_success_lambda_destination(client, server):
    r = client.invoke(FunctionName="succeeding", InvocationType="Event", Payload=b'{"id": "ok-1"}')
    assert wait_for(lambda: collected(server, "ok-1"), timeout=15)
    [record] = collected(server, "ok-1")
    # the function ran once, as the request the 202 answered (its log line is at most a batch behind)
    assert wait_for(lambda: logged_for(server, "succeeding", "succeeded", "ok-1"), timeout=5) == \
        [(r["ResponseMetadata"]["RequestId"], {"id": "ok-1"})]
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["requestId"] == r["ResponseMetadata"]["RequestId"]
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"ok": True, "id": "ok-1"}


def test_eventbridge_destination_file(client, server):
    client.invoke(FunctionName="to-queue", InvocationType="Event", Payload=b'{"id": "eb-1"}')
    path = os.path.join(server.root, ".lambdagate", "destinations",
                        "arn_aws_events_us-east-1_123456789012_event-bus_default.jsonl")

    def found():
        return [e for e in read_jsonl(path) if e["detail"]["requestPayload"] == {"id": "eb-1"}]

    assert wait_for(found, timeout=15)
    [event] = found()
    assert event["source"] == "lambda"
    assert event["detail-type"] == "Lambda Function Invocation Result - Success"
    assert event["account"] == "123456789012"
    assert event["detail"]["requestContext"]["condition"] == "Success"
    assert event["detail"]["responsePayload"]["event"] == {"id": "eb-1"}


def test_failure_without_destination_goes_to_dead_letter(client, server):
    client.invoke(FunctionName="no-destination", InvocationType="Event", Payload=b'{"id": "dl-1", "n": 2}')
    path = os.path.join(server.root, ".lambdagate", "dead-letter", "no-destination.jsonl")
    assert wait_for(lambda: records_for(path, "dl-1"), timeout=15)
    [record] = records_for(path, "dl-1")
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1     # MaximumRetryAttempts: 0
    assert record["responsePayload"]["errorMessage"] == "boom 2"


def test_event_invoke_config_operations(client, server):
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_event_invoke_config(FunctionName="tiny-05")
    put = client.put_function_event_invoke_config(
        FunctionName="tiny-05", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:dlq"}})
    assert put["MaximumRetryAttempts"] == 0
    assert put["MaximumEventAgeInSeconds"] == 21600
    got = client.get_function_event_invoke_config(FunctionName="tiny-05")
    assert got["DestinationConfig"] == {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:dlq"}}
    assert got["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:tiny-05:$LATEST"
    updated = client.update_function_event_invoke_config(FunctionName="tiny-05", MaximumEventAgeInSeconds=120)
    assert updated["MaximumRetryAttempts"] == 0 and updated["MaximumEventAgeInSeconds"] == 120
    listed = client.list_function_event_invoke_configs(FunctionName="tiny-05")["FunctionEventInvokeConfigs"]
    assert [c["MaximumEventAgeInSeconds"] for c in listed] == [120]
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.put_function_event_invoke_config(
            FunctionName="tiny-05", DestinationConfig={"OnFailure": {"Destination": "arn:aws:nope:x:1:y"}})
    client.delete_function_event_invoke_config(FunctionName="tiny-05")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_event_invoke_config(FunctionName="tiny-05")
    template = client.get_function_event_invoke_config(FunctionName="failing")
    assert template["DestinationConfig"]["OnFailure"]["Destination"] == \
        "arn:aws:lambda:us-east-1:123456789012:function:collector"


def test_put_event_invoke_config_changes_retries(client, server):
    client.put_function_event_invoke_config(
        FunctionName="fail", MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:sns:us-east-1:123456789012:alerts"}})
    try:
        client.invoke(FunctionName="fail", InvocationType="Event", Payload=b'{"id": "sns-1", "n": 3}')
        path = os.path.join(server.root, ".lambdagate", "destinations", "arn_aws_sns_us-east-1_123456789012_alerts.jsonl")
        assert wait_for(lambda: records_for(path, "sns-1"), timeout=15)
        [record] = records_for(path, "sns-1")
        assert record["requestContext"]["approximateInvokeCount"] == 2
        assert record["requestContext"]["condition"] == "RetriesExhausted"
    finally:
        client.delete_function_event_invoke_config(FunctionName="fail")


def test_invoke_async_operation(client, server):
    r = client.invoke_async(FunctionName="appender", InvokeArgs=b'{"id": "legacy-1"}')
    assert r["Status"] == 202
    assert wait_for(lambda: logged_for(server, "appender", "appended", "legacy-1"), timeout=15)
    [(_, event)] = logged_for(server, "appender", "appended", "legacy-1")
    assert event == {"id": "legacy-1"}


def test_event_to_unknown_function_is_not_found(client):
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="nope", InvocationType="Event", Payload=b"{}")
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="appender", InvocationType="Event", Payload=b"{nope")
