"""Invocation records for asynchronous invocations and where they go.

The record (aws-contract.md §5.3; sample in spec/events/async-destination-record.json):

    {"version": "1.0", "timestamp": "2019-11-14T18:16:05.568Z",
     "requestContext": {"requestId", "functionArn": "...:function:name:$LATEST",
                        "condition": "Success"|"RetriesExhausted"|"EventAgeExceeded",
                        "approximateInvokeCount": 3},
     "requestPayload": <event>,
     "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
     "responsePayload": <result or error object>}

Payload bytes are embedded as they are (orjson.Fragment), never decoded and re-encoded.
A `Lambda` destination becomes a new asynchronous event for the target function; SQS,
SNS, EventBridge and S3Bucket destinations are appended as one JSON line to
`<state_dir>/destinations/<sanitised ARN>.jsonl` (EventBridge wrapped in the event
envelope AWS puts on the bus); a failure with no destination goes to
`<state_dir>/dead-letter/<FunctionName>.jsonl`.
"""
from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass
from typing import Optional

import orjson

from gateway.types import ACCOUNT_ID, DestinationSpec

SUCCESS = "Success"
RETRIES_EXHAUSTED = "RetriesExhausted"
EVENT_AGE_EXCEEDED = "EventAgeExceeded"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

# destination ARN service -> SAM's DestinationConfig Type
ARN_SERVICE_TYPES = {"sqs": "SQS", "sns": "SNS", "lambda": "Lambda", "events": "EventBridge", "s3": "S3Bucket"}


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the last attempt of an event ended, as the record reports it."""
    status_code: int = 200
    function_error: Optional[str] = None     # "Unhandled" when the function failed
    payload: Optional[bytes] = None          # the function's result or error object; None: never ran


def iso_ms(epoch_s: float) -> str:
    """`2019-11-14T18:16:05.568Z`"""
    ms = int(epoch_s * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def iso_s(epoch_s: float) -> str:
    """`2019-11-14T18:16:05Z` (EventBridge's `time`)"""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch_s)))


def _one_line(payload: bytes) -> bytes:
    # in valid JSON a raw CR/LF can only be whitespace between tokens (orjson rejects raw
    # control characters inside strings), so blanking them keeps the value and one line per record
    if b"\n" in payload or b"\r" in payload:
        return payload.replace(b"\r", b" ").replace(b"\n", b" ")
    return payload


def _json_fragment(payload: bytes):
    """The bytes as JSON if they are JSON (checked), else the text as a JSON string."""
    try:
        orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload.decode("utf-8", "replace")
    return orjson.Fragment(_one_line(payload))


def build_record(*, request_id: str, function_arn: str, condition: str, invoke_count: int,
                 request_payload: bytes, outcome: Outcome, now_s: Optional[float] = None) -> dict:
    """The invocation record as a dict whose payload members are pre-encoded fragments."""
    response_context = {"statusCode": outcome.status_code, "executedVersion": "$LATEST"}
    if outcome.function_error is not None:
        response_context["functionError"] = outcome.function_error
    record = {
        "version": "1.0",
        "timestamp": iso_ms(time.time() if now_s is None else now_s),
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{function_arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        # accepted payloads were validated as JSON before they were stored
        "requestPayload": orjson.Fragment(_one_line(request_payload or b"{}")),
        "responseContext": response_context,
    }
    if outcome.payload is not None:
        record["responsePayload"] = _json_fragment(outcome.payload)
    return record


def eventbridge_envelope(record: dict, *, function_arn: str, region: str, condition: str,
                         now_s: Optional[float] = None) -> dict:
    """The event AWS puts on the bus for an EventBridge destination."""
    now_s = time.time() if now_s is None else now_s
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Lambda Function Invocation Result - " + ("Success" if condition == SUCCESS else "Failure"),
        "source": "lambda",
        "account": ACCOUNT_ID,
        "time": iso_s(now_s),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:event-bus/default", f"{function_arn}:$LATEST"],
        "detail": record,
    }


def encode_line(obj: dict) -> bytes:
    return orjson.dumps(obj) + b"\n"


def encode(obj: dict) -> bytes:
    return orjson.dumps(obj)


def sanitise(arn: str) -> str:
    return _UNSAFE.sub("_", arn).strip("_") or "destination"


def destination_file(state_dir: str, arn: str) -> str:
    return os.path.join(state_dir, "destinations", sanitise(arn) + ".jsonl")


def dead_letter_file(state_dir: str, function_name: str) -> str:
    return os.path.join(state_dir, "dead-letter", sanitise(function_name) + ".jsonl")


def lambda_target(arn: str) -> Optional[str]:
    """FunctionName of a Lambda destination ARN (any qualifier dropped), or None if not a function ARN."""
    parts = arn.split(":")
    if len(parts) >= 7 and parts[0] == "arn" and parts[2] == "lambda" and parts[5] == "function":
        return parts[6]
    if len(parts) in (1, 2) and parts[0]:   # a bare name (SAM templates sometimes give !Ref names)
        return parts[0]
    return None


def destination_from_arn(arn: str) -> DestinationSpec:
    """A DestinationSpec for an ARN given through PutFunctionEventInvokeConfig."""
    parts = arn.split(":")
    service = parts[2] if len(parts) > 2 and parts[0] == "arn" else ""
    kind = ARN_SERVICE_TYPES.get(service)
    if kind is None:
        raise ValueError(f"The destination ARN {arn} is invalid.")
    return DestinationSpec(kind, arn)
