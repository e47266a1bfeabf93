"""Shared value types: what a template declares and what an invocation returns.

Everything here is plain data so that the HTTP surfaces, the scheduler and the
tests can pass it around without importing each other.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, Optional, Protocol, runtime_checkable

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

# Lambda's limits (aws-contract.md §5.1, §2.1).
SYNC_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024          # 6291456: request and response
ASYNC_PAYLOAD_LIMIT_BYTES = 1024 * 1024              # Event invocations
RESPONSE_LIMIT_BYTES = SYNC_PAYLOAD_LIMIT_BYTES + 100  # RIE's MaxPayloadSize: 6291556
MIN_TIMEOUT_S, MAX_TIMEOUT_S = 1, 900
MIN_MEMORY_MB, MAX_MEMORY_MB = 128, 10240
MIN_EPHEMERAL_STORAGE_MB, MAX_EPHEMERAL_STORAGE_MB = 512, 10240  # EphemeralStorage.Size: Lambda's /tmp


@dataclass(frozen=True, slots=True)
class DestinationSpec:
    """One EventInvokeConfig destination: Type is SQS|SNS|Lambda|EventBridge|S3Bucket."""
    type: str
    arn: str


@dataclass(frozen=True, slots=True)
class EventInvokeConfig:
    maximum_retry_attempts: int = 2
    maximum_event_age_s: int = 21600
    on_success: Optional[DestinationSpec] = None
    on_failure: Optional[DestinationSpec] = None


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """An `AWS::Serverless::Function` after Globals, parameters and intrinsics."""
    logical_id: str
    function_name: str          # FunctionName property, else the logical id
    handler: str
    runtime: str
    code_dir: str               # absolute path; LAMBDA_TASK_ROOT and cwd of the worker
    timeout_s: float = 3
    memory_mb: int = 128
    ephemeral_storage_mb: int = 512  # EphemeralStorage.Size: Lambda's /tmp, in MB
    environment: Mapping[str, str] = field(default_factory=dict)
    reserved_concurrency: Optional[int] = None
    log_format: str = "Text"    # LoggingConfig.LogFormat: Text | JSON
    log_level: Optional[str] = None  # LoggingConfig.ApplicationLogLevel
    architecture: str = "x86_64"
    event_invoke: EventInvokeConfig = field(default_factory=EventInvokeConfig)
    region: str = DEFAULT_REGION

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"


@dataclass(frozen=True, slots=True)
class CorsConfig:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age_s: Optional[int] = None


ApiKind = Literal["REST", "HTTP"]


@dataclass(frozen=True, slots=True)
class ApiSpec:
    """An API: the implicit ServerlessRestApi / ServerlessHttpApi or an explicit resource."""
    logical_id: str
    kind: ApiKind
    stage_name: str                              # "Prod" for the implicit REST API, "$default" for HTTP
    stage_variables: Optional[Mapping[str, str]] = None
    binary_media_types: tuple[str, ...] = ()     # "~1" already turned into "/"
    cors: Optional[CorsConfig] = None
    api_key_source: str = "HEADER"               # HEADER (x-api-key) | AUTHORIZER (usageIdentifierKey)


# --- what a route requires before its integration runs (API Gateway's access control) -------------

AUTHORIZER_TYPES = ("TOKEN", "REQUEST", "LAMBDA", "JWT", "COGNITO_USER_POOLS", "AWS_IAM")


@dataclass(frozen=True, slots=True)
class AuthorizerSpec:
    """An authorizer as API Gateway runs it.

    type: TOKEN | REQUEST (REST Lambda authorizers), LAMBDA (HTTP API Lambda authorizer), JWT (HTTP
    API), COGNITO_USER_POOLS (REST), AWS_IAM (SigV4-signed callers; REST and HTTP API).
    """
    name: str                                 # its name in the API (Auth.Authorizers key, resource id, scheme)
    type: str
    function: Optional[str] = None            # Lambda authorizers: logical id of the authorizer function
    # where the identity comes from, as AWS writes it: "method.request.header.Authorization" (REST),
    # "$request.header.Authorization" (HTTP API); query strings, stage variables and context too
    identity_sources: tuple[str, ...] = ()
    validation_expression: Optional[str] = None   # TOKEN: a regular expression the token must match
    ttl_s: int = 300                          # result cache by identity; 0: every request asks
    payload_format: str = "2.0"               # HTTP API Lambda authorizers: "1.0" | "2.0"
    simple_responses: bool = False            # HTTP API 2.0: {"isAuthorized": bool, "context": {...}}
    issuers: tuple[str, ...] = ()             # JWT and Cognito: accepted `iss` values
    audience: tuple[str, ...] = ()            # JWT: accepted `aud` (or `client_id`) values


@dataclass(frozen=True, slots=True)
class ThrottleSpec:
    """API Gateway's token bucket: a steady rate and a burst (the bucket's size)."""
    rate_per_s: float
    burst: int


@dataclass(frozen=True, slots=True)
class QuotaSpec:
    """A usage plan's quota: `limit` requests per DAY | WEEK | MONTH (UTC), per API key."""
    limit: int
    period: str
    offset: int = 0


@dataclass(frozen=True, slots=True, eq=False)
class RequestValidation:
    """What a REST method's request validator checks, already narrowed to the validator's flags:
    body models only when it validates bodies, required parameters only when it validates them."""
    body_models: Mapping[str, Mapping] = field(default_factory=dict)  # content type -> JSON Schema draft 4
    required_querystrings: tuple[str, ...] = ()
    required_headers: tuple[str, ...] = ()
    required_paths: tuple[str, ...] = ()


INTEGRATION_PROXY = "AWS_PROXY"


@dataclass(frozen=True, slots=True, eq=False)
class RouteSpec:
    api: ApiSpec
    method: str                 # upper case, or "ANY"
    path: str                   # "/pets/{id}", "/{proxy+}", or "$default"
    function: str               # logical id of the target function ("" when the integration is not a proxy)
    payload_format: str = "1.0"  # "1.0" or "2.0"
    operation_name: Optional[str] = None
    authorizer: Optional[AuthorizerSpec] = None          # None: open (NONE)
    authorization_scopes: tuple[str, ...] = ()           # JWT / Cognito scopes the token must carry one of
    api_key_required: bool = False
    validation: Optional[RequestValidation] = None
    throttle: Optional[ThrottleSpec] = None              # stage or method throttling that applies here
    integration: str = INTEGRATION_PROXY                 # AWS | HTTP | HTTP_PROXY | MOCK: answered 500, but
    # a MOCK integration whose answer is fixed (the usual CORS preflight): (status, ((name, value), ...), body)
    static_response: Optional[tuple[int, tuple[tuple[str, str], ...], bytes]] = None

    @property
    def guarded(self) -> bool:
        """Whether anything stands between a request and the integration."""
        return (self.authorizer is not None or self.api_key_required or self.validation is not None
                or self.throttle is not None)


@dataclass(frozen=True, slots=True)
class ApiKeySpec:
    """An API key: from the template (AWS::ApiGateway::ApiKey, SAM's usage plans) or --api-keys."""
    name: str
    value: Optional[str] = None     # None: generated at startup, as AWS does, and printed
    enabled: bool = True
    usage_plans: tuple[str, ...] = ()   # UsagePlanSpec names this key belongs to


@dataclass(frozen=True, slots=True, eq=False)
class UsagePlanSpec:
    """A usage plan: the API stages it covers, its throttle and quota per key."""
    name: str
    stages: tuple[tuple[str, str], ...] = ()     # (API logical id, stage name)
    throttle: Optional[ThrottleSpec] = None
    quota: Optional[QuotaSpec] = None
    # (API logical id, stage name, "/path/METHOD" as AWS's ApiStages.Throttle keys) -> throttle
    method_throttles: Mapping[tuple[str, str, str], ThrottleSpec] = field(default_factory=dict)


@dataclass(slots=True)
class InvokeResult:
    """What one invocation produced, as the Invoke API and API Gateway need it."""
    request_id: str
    payload: bytes                     # the function's result, or the error object
    function_error: Optional[str] = None  # errorType when the invocation failed
    status: str = "success"            # success | error | timeout
    duration_ns: int = 0
    billed_ms: int = 0
    init_duration_ns: int = 0          # non-zero on a cold start
    memory_size_mb: int = 128
    max_memory_used_mb: int = 0
    log: bytes = b""                   # the invocation's log, START..REPORT, when asked for
    executed_version: str = "$LATEST"

    @property
    def failed(self) -> bool:
        return self.function_error is not None


# What the HTTP surfaces and the asynchronous dispatcher use of the scheduler
# (gateway.scheduler.Scheduler implements all three; the signatures are the scheduler's own).

@runtime_checkable
class Invoker(Protocol):
    """What the HTTP surfaces need from the scheduler; tests pass a fake."""

    def function(self, name: str) -> FunctionSpec:
        """The function by logical id or FunctionName; raises FunctionNotFound."""

    def functions(self) -> list:
        """Every function of the template (a list of FunctionSpec), in template order."""

    async def invoke(self, function: str, payload: bytes, *, client_context: Optional[str] = None,
                     invoked_arn: Optional[str] = None, want_log: bool = False,
                     request_id: Optional[str] = None, trace_root: Optional[str] = None) -> InvokeResult:
        """Run one invocation (with the caller's request id, for an accepted async event, and the
        caller's X-Ray trace root, `Root=1-...`, when API Gateway traced the request);
        raises Throttled when no capacity is left."""


@runtime_checkable
class ConcurrencyControl(Protocol):
    """Reserved concurrency per function (Get/Put/DeleteFunctionConcurrency, the dispatcher's capacity)."""

    def reserved_concurrency(self, name: str) -> Optional[int]:
        """The function's reserved concurrency, None when unreserved; raises FunctionNotFound."""

    def set_reserved_concurrency(self, name: str, reserved: Optional[int]) -> None:
        """Reserve `reserved` executions for the function (None: unreserved); raises FunctionNotFound."""


@runtime_checkable
class ManagedInvoker(Invoker, ConcurrencyControl, Protocol):
    """What the Lambda API and the asynchronous dispatcher take: an Invoker with concurrency
    controls that says when it is shutting down."""

    closing: bool       # True once shutdown began: invoke() refuses new invocations
