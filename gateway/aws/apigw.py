"""API Gateway (REST and HTTP API) as pure data functions: the one import for the HTTP surface.

Events live in :mod:`gateway.aws.apigw_events`; response mapping and gateway errors in
:mod:`gateway.aws.apigw_responses`; CORS in :mod:`gateway.aws.apigw_cors`. All are re-exported here.
"""
from __future__ import annotations

from .apigw_cors import (  # noqa: F401
    cors_origin_allowed,
    cors_preflight,
    cors_response_headers,
    is_preflight,
    rest_cors_preflight,
    strip_cors_headers,
)
from .apigw_events import (  # noqa: F401
    api_id_for,
    build_http_event,
    build_rest_event,
    clf_time,
    http_body_is_binary,
    media_type_matches,
    rest_body_is_binary,
)
from .apigw_responses import (  # noqa: F401
    Headers,
    MalformedResponse,
    Response,
    http_error,
    http_internal_error,
    http_not_found,
    http_payload_too_large,
    http_service_unavailable,
    http_throttled,
    map_http_response,
    map_rest_response,
    rest_content_length_exceeded,
    rest_error,
    rest_internal_error,
    rest_invoke_failed,
    rest_missing_token,
    rest_request_too_long,
    rest_throttled,
    rest_timeout,
)

__all__ = [
    "api_id_for", "build_http_event", "build_rest_event", "clf_time", "http_body_is_binary",
    "media_type_matches", "rest_body_is_binary",
    "Headers", "MalformedResponse", "Response", "cors_origin_allowed", "cors_preflight",
    "cors_response_headers", "http_error", "http_internal_error", "http_not_found",
    "http_payload_too_large", "http_service_unavailable", "http_throttled", "is_preflight",
    "map_http_response", "map_rest_response", "rest_content_length_exceeded", "rest_cors_preflight",
    "rest_error", "rest_internal_error", "rest_invoke_failed", "rest_missing_token",
    "rest_request_too_long", "rest_throttled", "rest_timeout", "strip_cors_headers",
]
