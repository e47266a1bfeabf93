"""The Lambda API under test: a SAM template of small functions, a real server on 127.0.0.1
(uvicorn in a thread, real worker processes), boto3 clients, and polling helpers."""
import asyncio
import json
import os
import socket
import textwrap
import threading
import time


HANDLERS = textwrap.dedent('''
    import json, os, time

    def echo(event, context):
        print("echo handler ran")
        cc = context.client_context
        return {"event": event, "request_id": context.aws_request_id,
                "invoked_arn": context.invoked_function_arn,
                "custom": getattr(cc, "custom", None) if cc else None}

    def fail(event, context):
        raise ValueError("boom " + str(event.get("n")))

    def slow(event, context):
        time.sleep(event.get("sleep", 0))
        return {"slept": event.get("sleep", 0)}

    def tiny(event, context):
        return 1

    # A function cannot write to the host's files (isolation): what it was given goes to its log,
    # one line "<LOG_TAG> <event as JSON>" (logged_events reads them back).
    def record(event, context):
        print(os.environ["LOG_TAG"], json.dumps(event, separators=(",", ":")))
        return {"ok": True, "id": event.get("id")}

    def record_then_fail(event, context):
        record(event, context)
        raise RuntimeError("always failing")
''')


def write_template(root, *, tiny=0, extra=""):
    """A template with the test functions; returns its path."""
    code = os.path.join(root, "src")
    os.makedirs(code, exist_ok=True)
    with open(os.path.join(code, "handlers.py"), "w") as f:
        f.write(HANDLERS)
    resources = """
  Echo:
    Type: AWS::Serverless::Function
    Properties: {Handler: handlers.echo, FunctionName: echo}
  Fail:
    Type: AWS::Serverless::Function
    Properties: {Handler: handlers.fail, FunctionName: fail}
  Slow:
    Type: AWS::Serverless::Function
    Properties: {Handler: handlers.slow, FunctionName: slow, Timeout: 1}
  Sleepy:
    Type: AWS::Serverless::Function
    Properties: {Handler: handlers.slow, FunctionName: sleepy, Timeout: 10}
  Collector:
    Type: AWS::Serverless::Function
    Properties:
      Handler: handlers.record
      FunctionName: collector
      Environment: {Variables: {LOG_TAG: collected}}
  Appender:
    Type: AWS::Serverless::Function
    Properties:
      Handler: handlers.record
      FunctionName: appender
      Environment: {Variables: {LOG_TAG: appended}}
  Failing:
    Type: AWS::Serverless::Function
    Properties:
      Handler: handlers.record_then_fail
      FunctionName: failing
      Environment: {Variables: {LOG_TAG: attempted}}
      EventInvokeConfig:
        MaximumRetryAttempts: 2
        DestinationConfig:
          OnFailure: {Type: Lambda, Destination: !GetAtt Collector.Arn}
  Succeeding:
    Type: AWS::Serverless::Function
    Properties:
      Handler: handlers.record
      FunctionName: succeeding
      Environment: {Variables: {LOG_TAG: succeeded}}
      EventInvokeConfig:
        DestinationConfig:
          OnSuccess: {Type: Lambda, Destination: !GetAtt Collector.Arn}
          OnFailure: {Type: SQS, Destination: arn:aws:sqs:us-east-1:123456789012:failures}
  ToQueue:
    Type: AWS::Serverless::Function
    Properties:
      Handler: handlers.echo
      FunctionName: to-queue
      EventInvokeConfig:
        DestinationConfig:
          OnSuccess: {Type: EventBridge, Destination: arn:aws:events:us-east-1:123456789012:event-bus/default}
  NoDestination:
    Type: AWS::Serverless::Function
    Properties:
      Handler: handlers.fail
      FunctionName: no-destination
      EventInvokeConfig: {MaximumRetryAttempts: 0}
"""
    for i in range(tiny):
        resources += f"""
  Tiny{i:02d}:
    Type: AWS::Serverless::Function
    Properties: {{Handler: handlers.tiny, FunctionName: tiny-{i:02d}}}
"""
    text = f"""AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    CodeUri: src/
    Timeout: 5
Resources:{resources}{extra}
"""
    path = os.path.join(root, "template.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class InProcessServer:
    """Scheduler + build_lambda_app on uvicorn, in a thread with its own uvloop loop."""

    def __init__(self, template, state_dir, **config_fields):
        self.template, self.state_dir, self.config_fields = template, state_dir, config_fields
        self.ready = threading.Event()
        self.error = None
        self.loop = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        if not self.ready.wait(30):
            raise RuntimeError("server did not start")
        if self.error:
            raise self.error
        return self

    def _run(self):
        import uvloop
        try:
            uvloop.run(self._main())
        except BaseException as exc:  # noqa: BLE001
            self.error = exc
            self.ready.set()

    async def _main(self):
        from gateway.config import Config
        from gateway.http_protocol import OneWriteProtocol, http_server
        from gateway.lambda_api.endpoint import build_lambda_app
        from gateway.sam.template import load_template
        from gateway.scheduler import Scheduler

        self.loop = asyncio.get_running_loop()
        template = load_template(self.template)
        config = Config(state_dir=self.state_dir, console_logs=False, region="us-east-1", **self.config_fields)
        self.scheduler = Scheduler(list(template.functions.values()), config)
        await self.scheduler.start()
        self.app = build_lambda_app(self.scheduler, config)
        await self.app.state.async_invoker.start()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # the server `start-lambda` runs: uvicorn with lambdagate's protocol (one write per response)
        self.server = http_server(self.app, "127.0.0.1", self.port, config, OneWriteProtocol,
                                  max_head_bytes=config.lambda_api_max_head_bytes)
        self.stopped = asyncio.Event()
        task = asyncio.ensure_future(self.server.serve(sockets=[sock]))
        while not self.server.started:
            if task.done():
                await task
            await asyncio.sleep(0.01)
        self.ready.set()
        await task
        await self.app.state.async_invoker.stop(grace_s=2)
        await self.scheduler.close()

    def call(self, coro, timeout=30):
        """Run a coroutine on the server's loop from the test thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self):
        if self.loop is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(setattr, self.server, "should_exit", True)
            self.thread.join(30)


def lambda_client(url, read_timeout=30, **config):
    import boto3
    from botocore.config import Config
    return boto3.client("lambda", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x",
                        config=Config(retries={"max_attempts": 0}, read_timeout=read_timeout, **config))


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def logged_events(state_dir, function_name, tag):
    """[(request id, event)] of every event a `record` handler of `function_name` logged with `tag`,
    read from the function's log file (<state_dir>/logs/<FunctionName>.log): the request id is that
    of the START line the output follows. Only whole lines: the log writer may be mid-write."""
    path = os.path.join(state_dir, "logs", f"{function_name}.log")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")[:-1]          # the last piece is empty or not yet whole
    found, request_id, prefix = [], None, tag + " "
    for line in lines:
        if line.startswith("START RequestId: "):
            request_id = line.split()[2]
        elif line.startswith("END RequestId: "):
            request_id = None
        elif line.startswith(prefix) and request_id is not None:
            found.append((request_id, json.loads(line[len(prefix):])))
    return found


def wait_for(predicate, timeout=20.0, interval=0.02):
    """Poll until predicate() is truthy; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
