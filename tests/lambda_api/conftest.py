"""Fixtures for the Lambda API tests: one real server on 127.0.0.1 for the session, and a boto3
client for it (helpers in support/lambda_server.py)."""
import pytest

from support.lambda_server import InProcessServer, lambda_client, write_template


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("lambda-api")
    template = write_template(str(root), tiny=60, extra="""
  BigTmp:
    Type: AWS::Serverless::Function
    Properties: {Handler: handlers.echo, FunctionName: big-tmp, EphemeralStorage: {Size: 1024}}
""")
    srv = InProcessServer(template, str(root / ".lambdagate"), async_retry_delays_s=(0.3, 0.6),
                          async_throttle_backoff_s=(0.05, 0.5)).start()
    srv.root = str(root)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def client(server):
    return lambda_client(server.url)
