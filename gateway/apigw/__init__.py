"""Amazon API Gateway (REST v1 and HTTP API v2): the route table, the event builders, response
mapping and error bodies, CORS, and the raw ASGI endpoint that serves a template's routes."""
