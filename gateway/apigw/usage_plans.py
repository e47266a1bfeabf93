"""API keys and usage plans of REST APIs, as API Gateway enforces them on a method with
``ApiKeyRequired``.

A request reaches the integration only with the value of a known, enabled key (the ``x-api-key``
header, or the ``usageIdentifierKey`` of a Lambda authorizer when the API's key source is
AUTHORIZER) that belongs to a usage plan covering the route's API and stage; anything else is
403 ``{"message":"Forbidden"}``. The key's plan then applies, per key:

* its throttle, a token bucket of `rate` requests a second and `burst` at once; an
  ``ApiStages[].Throttle`` entry for the method ("/path/METHOD") replaces it for that method
  (429 ``Too Many Requests``, TooManyRequestsException);
* its quota, `limit` requests per UTC calendar period: DAY from 00:00 UTC, WEEK from Sunday
  00:00 UTC (the day the API reference once documented for a WEEK quota), MONTH from the 1st at
  00:00 UTC. `offset` requests are taken off the limit of the period lambdagate starts in, the
  "initial time period" of the API reference (429 ``Limit Exceeded``, LimitExceededException).
  A request over quota is refused before it takes a throttle token; a throttled one does not
  count against the quota.

Where lambdagate differs from AWS, on purpose:

* a template that declares no usage plan at all accepts any enabled key, without throttle or
  quota, so that ``ApiKeyRequired`` can be tried without writing a plan (AWS refuses every key
  that is in no usage plan of the stage);
* quotas are counted in memory: a restart gives every key its full quota again;
* a template key without a value gets a fresh one at every start (40 characters of [A-Za-z0-9],
  as AWS generates them), logged once with the key's name.

Keys come from the template and from ``--api-keys FILE``, a JSON list of
``{"value": str (at least 20 characters, as AWS requires), "name": str, "enabled": bool,
"usagePlans": [plan names]}`` (without usagePlans: every usage plan of the template). A file
that cannot be used stops the start with an ApiKeyError naming the file and the entry.

State (buckets and quota counters) exists only for the keys known at startup, so no request can
make it grow.
"""
from __future__ import annotations

import calendar
import hashlib
import logging
import os
import secrets
import string
import time
from typing import Callable, Optional

import orjson

from gateway.apigw import responses
from gateway.apigw.access import AccessRequest, Denied, Throttle
from gateway.errors import LambdagateError
from gateway.types import ApiKeySpec, QuotaSpec, RouteSpec, UsagePlanSpec

log = logging.getLogger("lambdagate")

GENERATED_KEY_CHARS = string.ascii_letters + string.digits
GENERATED_KEY_LENGTH = 40
MIN_KEY_LENGTH = 20                 # CreateApiKey / ImportApiKeys refuse shorter values
QUOTA_PERIODS = ("DAY", "WEEK", "MONTH")
_DAY_S = 86400
_FILE_FIELDS = frozenset(("value", "name", "enabled", "usagePlans"))


class ApiKeyError(LambdagateError):
    """API keys that cannot be used: a bad --api-keys file, two keys with one value."""


def generate_key_value() -> str:
    """A key value as API Gateway generates one."""
    return "".join(secrets.choice(GENERATED_KEY_CHARS) for _ in range(GENERATED_KEY_LENGTH))


def key_id_for(identity: str) -> str:
    """A stable 10-character id in API Gateway's alphabet ([a-z0-9]) for `identity`: the same
    key gets the same apiKeyId at every start."""
    number = int.from_bytes(hashlib.sha256(identity.encode()).digest()[:8], "big")
    chars = []
    for _ in range(10):
        number, digit = divmod(number, 36)
        chars.append("0123456789abcdefghijklmnopqrstuvwxyz"[digit])
    return "".join(chars)


# --------------------------------------------------------------------------- quota periods

def quota_period_bounds(period: str, now_s: float) -> tuple[float, float]:
    """(start, end) in epoch seconds of the UTC calendar DAY, WEEK (from Sunday) or MONTH
    holding `now_s`."""
    day_start_s = (int(now_s) // _DAY_S) * _DAY_S
    if period == "DAY":
        return day_start_s, day_start_s + _DAY_S
    if period == "WEEK":
        # 1970-01-01 was a Thursday: day number + 4 counts days since a Sunday
        start_s = day_start_s - ((day_start_s // _DAY_S + 4) % 7) * _DAY_S
        return start_s, start_s + 7 * _DAY_S
    if period == "MONTH":
        year, month = time.gmtime(now_s)[:2]
        start_s = calendar.timegm((year, month, 1, 0, 0, 0))
        end_s = calendar.timegm((year + month // 12, month % 12 + 1, 1, 0, 0, 0))
        return start_s, end_s
    raise ValueError(f"quota period {period!r} is not one of {', '.join(QUOTA_PERIODS)}")


class Quota:
    """One key's request count in one usage plan's current quota period."""

    __slots__ = ("limit", "period", "_allowed", "_used", "_end_s")

    def __init__(self, spec: QuotaSpec, now_s: float):
        self.limit, self.period = int(spec.limit), spec.period
        self._end_s = quota_period_bounds(spec.period, now_s)[1]
        self._allowed = max(0, self.limit - int(spec.offset or 0))   # the initial period only
        self._used = 0

    def exhausted(self, now_s: float) -> bool:
        if now_s >= self._end_s:
            self._end_s = quota_period_bounds(self.period, now_s)[1]
            self._allowed, self._used = self.limit, 0
        return self._used >= self._allowed

    def count(self) -> None:
        self._used += 1


# --------------------------------------------------------------------------- keys and their plans

class _Usage:
    """One key in one usage plan: its buckets and its quota."""

    __slots__ = ("plan", "bucket", "method_buckets", "quota")

    def __init__(self, plan: UsagePlanSpec, now_s: float):
        self.plan = plan
        self.bucket = Throttle(plan.throttle.rate_per_s, plan.throttle.burst) if plan.throttle else None
        self.method_buckets = {key: Throttle(spec.rate_per_s, spec.burst)
                               for key, spec in plan.method_throttles.items()}
        self.quota = Quota(plan.quota, now_s) if plan.quota is not None else None


class _Key:
    __slots__ = ("name", "value", "enabled", "plan_names", "source", "identity", "usage")

    def __init__(self, name: str, value: str, enabled: bool, plan_names: tuple[str, ...], key_id: str,
                 source: str):
        self.name, self.value, self.enabled, self.plan_names = name, value, enabled, plan_names
        self.source = source                                    # where it was declared, for error messages
        self.identity = {"apiKey": value, "apiKeyId": key_id}   # shared: callers copy it, never change it
        self.usage: dict[tuple[str, str], _Usage] = {}          # (API logical id, stage) -> its plan's usage


class ApiKeys:
    """Every API key of the port, with the usage plans they belong to; built once at startup."""

    def __init__(self, api_keys: tuple[ApiKeySpec, ...], usage_plans: tuple[UsagePlanSpec, ...],
                 keys_file: Optional[str], *, wall_clock_s: Callable[[], float] = time.time,
                 monotonic_s: Callable[[], float] = time.monotonic):
        self._wall_clock_s, self._monotonic_s = wall_clock_s, monotonic_s
        plans = {plan.name: plan for plan in usage_plans}
        for plan in usage_plans:
            if plan.quota is not None and plan.quota.period not in QUOTA_PERIODS:
                raise ApiKeyError(f"usage plan {plan.name}: quota period {plan.quota.period!r} is not one of "
                                  f"{', '.join(QUOTA_PERIODS)}")
        self._open = not plans      # no usage plan at all: any enabled key passes (see the module's doc)
        keys = [self._template_key(spec, plans) for spec in api_keys]
        if keys_file is not None:
            keys.extend(_read_keys_file(keys_file, plans))
        self._keys: dict[str, _Key] = {}
        now_s = wall_clock_s()
        for key in keys:
            other = self._keys.get(key.value)
            if other is not None:
                raise ApiKeyError(f"{key.source}: API key {key.name!r} has the value of API key {other.name!r} "
                                  f"({other.source}); API Gateway requires each key's value to be unique")
            self._keys[key.value] = key
            self._attach_plans(key, plans, now_s)

    @staticmethod
    def _template_key(spec: ApiKeySpec, plans: dict) -> _Key:
        value = spec.value
        if value is None:
            value = generate_key_value()
            log.info("API key %s: %s (generated for this run; send it in the x-api-key header)", spec.name, value)
            key_id = key_id_for(f"template:{spec.name}")
        else:
            key_id = key_id_for(f"value:{value}")
        for name in spec.usage_plans:
            if name not in plans:
                log.warning("API key %s names usage plan %s, which the template does not declare", spec.name, name)
        return _Key(spec.name, value, spec.enabled, tuple(spec.usage_plans), key_id, "the template")

    def _attach_plans(self, key: _Key, plans: dict, now_s: float) -> None:
        for name in dict.fromkeys(key.plan_names):
            plan = plans.get(name)
            if plan is None:
                continue
            usage = _Usage(plan, now_s)
            for stage in plan.stages:
                taken = key.usage.get(stage)
                if taken is not None:
                    log.warning("API key %s is in usage plans %s and %s, which both cover stage %s of %s; "
                                "API Gateway allows one plan per key and stage: %s applies",
                                key.name, taken.plan.name, plan.name, stage[1], stage[0], taken.plan.name)
                    continue
                key.usage[stage] = usage

    def check(self, request: AccessRequest, key_value: Optional[str]) -> Optional[dict]:
        """The requestContext.identity fields of the request's key (apiKey, apiKeyId); raises
        Denied with API Gateway's 403 or 429 when the key may not call the route now."""
        key = self._keys.get(key_value) if key_value else None
        if key is None or not key.enabled:
            raise Denied(_forbidden(request.request_id))
        if self._open:
            return key.identity
        route = request.route
        usage = key.usage.get((route.api.logical_id, route.api.stage_name))
        if usage is None:
            raise Denied(_forbidden(request.request_id))
        quota = usage.quota
        if quota is not None and quota.exhausted(self._wall_clock_s()):
            raise Denied(_limit_exceeded(request.request_id))
        bucket = usage.bucket
        if usage.method_buckets:
            bucket = usage.method_buckets.get(_method_key(route), bucket)
        if bucket is not None and not bucket.take(self._monotonic_s()):
            raise Denied(responses.rest_throttled(request.request_id))
        if quota is not None:
            quota.count()
        return key.identity


def _method_key(route: RouteSpec) -> tuple[str, str, str]:
    return route.api.logical_id, route.api.stage_name, f"{route.path}/{route.method}"


def _forbidden(request_id: str):
    return responses.rest_error(403, "Forbidden", "ForbiddenException", request_id=request_id)


def _limit_exceeded(request_id: str):
    return responses.rest_error(429, "Limit Exceeded", "LimitExceededException", request_id=request_id)


# --------------------------------------------------------------------------- --api-keys FILE

def _read_keys_file(path: str, plans: dict) -> list[_Key]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ApiKeyError(f"cannot read the API keys file {path}: {exc.strerror}") from None
    try:
        entries = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ApiKeyError(f"API keys file {path} is not JSON: {exc}") from None
    if not isinstance(entries, list):
        raise ApiKeyError(f"API keys file {path}: expected a JSON list of keys "
                          f'([{{"value": "...", "name": "..."}}]), found a JSON {type(entries).__name__}')
    label = os.path.basename(path)
    return [_file_key(entry, f"API keys file {path}, entry [{i}]", f"{label}[{i}]", plans)
            for i, entry in enumerate(entries)]


def _file_key(entry, where: str, default_name: str, plans: dict) -> _Key:
    if not isinstance(entry, dict):
        raise ApiKeyError(f"{where}: expected an object with a \"value\", found {orjson.dumps(entry).decode()[:60]}")
    unknown = sorted(set(entry) - _FILE_FIELDS)
    if unknown:
        raise ApiKeyError(f"{where}: unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(_FILE_FIELDS))})")
    value = entry.get("value")
    if not isinstance(value, str):
        raise ApiKeyError(f"{where}: \"value\" is required and must be a string")
    if len(value) < MIN_KEY_LENGTH:
        raise ApiKeyError(f"{where}: \"value\" has {len(value)} characters; API Gateway requires at least "
                          f"{MIN_KEY_LENGTH}")
    if not (value.isascii() and value.isprintable()) or " " in value:
        raise ApiKeyError(f"{where}: \"value\" must be printable ASCII without spaces (it is sent in an HTTP header)")
    name = entry.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise ApiKeyError(f"{where}: \"name\" must be a non-empty string")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ApiKeyError(f"{where} ({name}): \"enabled\" must be true or false")
    if "usagePlans" in entry:
        names = entry["usagePlans"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ApiKeyError(f"{where} ({name}): \"usagePlans\" must be a list of usage plan names")
        unknown = [n for n in names if n not in plans]
        if unknown:
            raise ApiKeyError(f"{where} ({name}): unknown usage plan(s) {', '.join(unknown)}; the template declares "
                              f"{', '.join(plans) or 'none'}")
        plan_names = tuple(names)
    else:
        plan_names = tuple(plans)
    return _Key(name, value, enabled, plan_names, key_id_for(f"value:{value}"), where)
