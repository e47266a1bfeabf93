"""App assembly: the ASGI applications each port serves.

The Lambda API's control operations use Starlette's router. The API Gateway port
is one raw ASGI endpoint (every path is the gateway's to route), so HTTP requests
reach it directly instead of through Starlette's middleware stack, which costs
several percent of throughput per layer; lifespan and anything that is not HTTP
still go through Starlette.
"""
from __future__ import annotations

from typing import Optional

from starlette.applications import Starlette
from starlette.routing import Mount

from gateway.apigw.endpoint import ApiGateway
from gateway.apigw.routing import RouteTable
from gateway.types import Invoker


class ApiApp:
    """The API Gateway port: HTTP straight to the gateway, the rest to Starlette."""

    def __init__(self, gateway: ApiGateway):
        self.gateway = gateway
        self.starlette = Starlette(routes=[Mount("/", app=gateway)])

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            await self.gateway(scope, receive, send)
        else:
            await self.starlette(scope, receive, send)


def build_api_app(routes, invoker: Invoker, access: Optional[dict] = None) -> ApiApp:
    """API Gateway: every Api and HttpApi route of the template on one port; `access` is
    gateway.apigw.access_setup.build_access's checks of the guarded routes."""
    table = routes if isinstance(routes, RouteTable) else RouteTable(routes)
    return ApiApp(ApiGateway(table, invoker, access))
