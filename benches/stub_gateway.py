"""lambdagate's API Gateway port with the function answered in-process by a stub, not
by a worker process: what the HTTP side costs alone, for benches/load_bench.py.

    python benches/stub_gateway.py TEMPLATE PORT
"""
import sys

import uvloop

from gateway.app import build_api_app
from gateway.sam.template import load_template
from gateway.config import Config
from gateway.http_protocol import ApiGatewayProtocol, http_server
from gateway.types import InvokeResult

HELLO = b'{"statusCode":200,"body":"{\\"message\\": \\"hello world\\"}"}'


class StubInvoker:
    def __init__(self, template):
        self.template = template

    def function(self, name):
        return self.template.functions[name]

    def functions(self):
        return list(self.template.functions.values())

    async def invoke(self, name, payload, **kwargs):
        return InvokeResult("stub", HELLO)


async def main(template_path: str, port: int) -> None:
    template = load_template(template_path)
    app = build_api_app(template.routes, StubInvoker(template))
    await http_server(app, "127.0.0.1", port, Config(), ApiGatewayProtocol).serve()


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1], int(sys.argv[2])))
