"""App assembly: the Starlette applications each port serves."""
from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Mount

from gateway.apigateway import ApiGateway
from gateway.routing import RouteTable
from gateway.types import Invoker


def build_api_app(routes, invoker: Invoker) -> Starlette:
    """API Gateway: every Api and HttpApi route of the template on one port."""
    table = routes if isinstance(routes, RouteTable) else RouteTable(routes)
    return Starlette(routes=[Mount("/", app=ApiGateway(table, invoker))])
