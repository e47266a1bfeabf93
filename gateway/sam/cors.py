"""API CORS settings of a SAM template: REST `Cors` and HTTP API `CorsConfiguration`."""
from __future__ import annotations

import re
from typing import Any, Callable, Optional

from gateway.types import CorsConfig


# --- CORS (samcli/lib/providers/cfn_base_api_provider.py) -----------------------------------------

HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")   # sorted, as SAM lists them
Fail = Callable[[str, str], Exception]          # (message, property) -> the exception to raise


# CORS settings become response header values: control characters (CR, LF, NUL...) would break
# the HTTP framing of every response they are added to
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def _header_safe(config: CorsConfig, fail: Fail, prop: str) -> CorsConfig:
    origin_key = "AllowOrigins" if prop == "CorsConfiguration" else "AllowOrigin"
    for key, values in ((origin_key, config.allow_origins), ("AllowHeaders", config.allow_headers),
                        ("ExposeHeaders", config.expose_headers)):
        for value in values:
            if _CONTROL.search(value):
                raise fail(f"{value!r} holds a control character, which an HTTP header cannot carry",
                           f"{prop}.{key}")
    return config


def cors_methods(methods: list, fail: Fail, prop: str) -> tuple[str, ...]:
    """normalize_cors_allow_methods: upper case, '*' is every method, OPTIONS always added."""
    names = [str(m).strip().upper() for m in methods if str(m).strip()]
    if not names or "*" in names:
        return HTTP_METHODS
    for name in names:
        if name not in HTTP_METHODS:
            raise fail(f"{name} is not a valid CORS method", prop)
    return tuple(sorted(set(names) | {"OPTIONS"}))


def _quoted(cors: dict, key: str, fail: Fail, warn: Callable[[str], None]) -> Optional[str]:
    value = cors.get(key)
    if value is None or value == "" or value is False:
        return None
    if (value is True and key == "AllowCredentials") or (type(value) is int and key == "MaxAge"):
        return str(value).lower()
    if not isinstance(value, str):
        warn(f"CORS property {key} was not fully resolved; it is left out")
        return None
    if len(value) < 2 or not (value.startswith("'") and value.endswith("'")):
        raise fail('must be a quoted string ("\'value\'" is correct, but "value" is not)', f"Cors.{key}")
    return value[1:-1]


def rest_cors(cors: Any, fail: Fail, warn: Callable[[str], None]) -> Optional[CorsConfig]:
    """`Cors` of AWS::Serverless::Api: "'origin'" or {AllowOrigin, AllowMethods, ...} (quoted values)."""
    if cors is None or cors is False or cors == "" or cors == {}:
        return None
    if isinstance(cors, str):
        origin = _quoted({"AllowOrigin": cors}, "AllowOrigin", fail, warn)
        # no AllowMethods: the OPTIONS method SAM deploys allows the resource's own methods
        return _header_safe(CorsConfig(allow_origins=(origin or "",), allow_methods=()), fail, "Cors")
    if not isinstance(cors, dict):
        raise fail("must be a quoted origin (\"'*'\") or a mapping", "Cors")
    unknown = set(cors) - {"AllowOrigin", "AllowMethods", "AllowHeaders", "AllowCredentials", "MaxAge"}
    if unknown:
        raise fail(f"unknown key(s) {', '.join(sorted(unknown))}", "Cors")
    origin, methods, headers, credentials, max_age = (
        _quoted(cors, key, fail, warn) for key in ("AllowOrigin", "AllowMethods", "AllowHeaders",
                                                   "AllowCredentials", "MaxAge"))
    if origin is None:
        raise fail("AllowOrigin is required", "Cors.AllowOrigin")
    if max_age is not None and not max_age.strip().isdigit():
        raise fail(f"must be a number of seconds, not {max_age!r}", "Cors.MaxAge")
    allow_credentials = (credentials or "").lower() == "true"
    if allow_credentials and origin == "*":
        raise fail("AllowCredentials can not be true when AllowOrigin is \"'*'\"", "Cors.AllowCredentials")
    allow_methods = () if methods is None else cors_methods(methods.split(","), fail, "Cors.AllowMethods")
    return _header_safe(CorsConfig(allow_origins=(origin,), allow_methods=allow_methods,
                                   allow_headers=tuple(h.strip() for h in (headers or "").split(",") if h.strip()),
                                   allow_credentials=allow_credentials, max_age_s=int(max_age) if max_age else None),
                        fail, "Cors")


def http_cors(cors: Any, fail: Fail) -> Optional[CorsConfig]:
    """`CorsConfiguration` of AWS::Serverless::HttpApi: true (origin '*', every method) or a mapping."""
    prop = "CorsConfiguration"
    if cors is None or cors is False or cors == {}:
        return None
    if cors is True:
        return CorsConfig(allow_origins=("*",), allow_methods=HTTP_METHODS)
    if not isinstance(cors, dict):
        raise fail("must be true or a mapping", prop)
    keys = ("AllowOrigins", "AllowMethods", "AllowHeaders", "ExposeHeaders")
    unknown = set(cors) - set(keys) - {"AllowCredentials", "MaxAge"}
    if unknown:
        raise fail(f"unknown key(s) {', '.join(sorted(unknown))}", prop)
    lists = {key: cors.get(key) or [] for key in keys}
    for key, value in lists.items():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail("must be a list of strings", f"{prop}.{key}")
    credentials, max_age = cors.get("AllowCredentials", False), cors.get("MaxAge")
    if not isinstance(credentials, bool):
        raise fail("must be true or false", f"{prop}.AllowCredentials")
    if credentials and "*" in lists["AllowOrigins"]:
        raise fail("AllowCredentials can not be true when AllowOrigins contains '*'", f"{prop}.AllowCredentials")
    if max_age is not None and (isinstance(max_age, bool) or not str(max_age).strip().isdigit()):
        raise fail(f"must be a whole number of seconds, not {max_age!r}", f"{prop}.MaxAge")
    config = CorsConfig(allow_origins=tuple(lists["AllowOrigins"]),
                        allow_methods=cors_methods(lists["AllowMethods"], fail, f"{prop}.AllowMethods"),
                        allow_headers=tuple(lists["AllowHeaders"]), expose_headers=tuple(lists["ExposeHeaders"]),
                        allow_credentials=credentials, max_age_s=None if max_age is None else int(str(max_age)))
    return _header_safe(config, fail, prop)
