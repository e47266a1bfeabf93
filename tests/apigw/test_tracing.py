"""X-Ray: the function runs under the trace root API Gateway puts in the event's
X-Amzn-Trace-Id header (the client's own, when it sent one), as on AWS."""
import textwrap

import httpx
import pytest

pytestmark = pytest.mark.integration   # starts real processes

TEMPLATE = textwrap.dedent("""\
    Transform: AWS::Serverless-2016-10-31
    Resources:
      Trace:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: .
          Handler: app.handler
          Runtime: python3.11
          Events:
            Rest:
              Type: Api
              Properties: {Path: /rest, Method: get}
            Http:
              Type: HttpApi
              Properties: {Path: /http, Method: get}
    """)

HANDLER = textwrap.dedent("""\
    import json, os
    def handler(event, context):
        headers = {k.lower(): v for k, v in event["headers"].items()}
        return {"statusCode": 200, "body": json.dumps({"event": headers["x-amzn-trace-id"],
                                                       "function": os.environ["_X_AMZN_TRACE_ID"]})}
    """)


def test_the_function_shares_api_gateways_trace_root(tmp_path, start_api):
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "app.py").write_text(HANDLER)
    server = start_api(tmp_path / "template.yaml", "--no-reload")
    with httpx.Client(base_url=server.base_url, timeout=20) as client:
        for path in ("/rest", "/http"):
            seen = client.get(path).json()
            root = seen["event"].split(";")[0]
            assert root.startswith("Root=1-") and len(root) == len("Root=1-") + 8 + 1 + 24
            assert seen["function"].startswith(root + ";Parent=")
            assert seen["function"].endswith(";Sampled=0")
        sent = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
        seen = client.get("/rest", headers={"X-Amzn-Trace-Id": sent}).json()
        assert seen["event"] == sent
        assert seen["function"].startswith("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=")
