"""Handlers for tests/gateway/test_start_api.py: slow and fast functions that report which
process served them, and leave marks in <task root>/../marks so that tests can see what runs."""
import json
import os
import time

MARKS = os.path.join(os.path.dirname(os.environ["LAMBDA_TASK_ROOT"]), "marks")
os.makedirs(MARKS, exist_ok=True)
FUNCTION = os.environ["AWS_LAMBDA_FUNCTION_NAME"]

# one mark per execution environment, written during Init
with open(os.path.join(MARKS, f"init-{FUNCTION}-{os.getpid()}"), "w") as f:
    f.write(str(os.getpid()))


def _answer(**extra):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"pid": os.getpid(), "function": FUNCTION, **extra})}


def slow(event, context):
    """Sleeps SLEEP_S seconds; marks its start so that a test knows it is in flight."""
    with open(os.path.join(MARKS, f"started-{FUNCTION}-{context.aws_request_id}"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(float(os.environ["SLEEP_S"]))
    return _answer()


def fast(event, context):
    return _answer()


def sleepy(event, context):
    """For graceful shutdown: records its pid and its parent's (the zygote), then takes 1 s."""
    path = os.path.join(MARKS, "sleepy.pids")
    with open(path + ".tmp", "w") as f:
        f.write(f"{os.getpid()} {os.getppid()}")
    os.replace(path + ".tmp", path)
    time.sleep(1.0)
    return _answer(done=True)


def raises(event, context):
    print("about to fail")
    raise ValueError("secret failure detail 4242")


def big(event, context):
    """A 7 MB result: over Lambda's 6 MB response limit."""
    return {"statusCode": 200, "body": "x" * (7 * 1024 * 1024)}
